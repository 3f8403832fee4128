package enroll

import (
	"fmt"
	"sync"

	"enrollstation/biometrics"
	"enrollstation/vault"
)

// Service is the enrollment workflow on one open station: what the window and the
// commands call. main builds it (through an Opener) and hands it to a front end; the
// Service owns the TPM connection, the station and the recognizer it loads, and closes
// them in Close.
type Service struct {
	cfg Config
	op  Opener
	tpm *vault.TPM
	st  *vault.Station

	recMu  sync.Mutex
	rec    *biometrics.Recognizer
	ownRec bool
}

// Open opens the TPM and the provisioned station with op.
func Open(cfg Config, op Opener) (*Service, error) {
	tp, err := op.OpenTPM()
	if err != nil {
		return nil, vault.ExplainLowDisk(cfg.Data, err)
	}
	st, err := op.OpenStation(tp)
	if err != nil {
		tp.Close()
		return nil, vault.ExplainLowDisk(cfg.Data, err)
	}
	return NewService(cfg, op, tp, st), nil
}

// NewService wraps an open TPM and station (e.g. just provisioned); the Service takes
// ownership of both.
func NewService(cfg Config, op Opener, tp *vault.TPM, st *vault.Station) *Service {
	return &Service{cfg: cfg, op: op, tpm: tp, st: st}
}

// Config is the configuration the station was opened with.
func (s *Service) Config() Config { return s.cfg }

// Station is the open station (the vault's invariants: accounts, records, audit).
func (s *Service) Station() *vault.Station { return s.st }

// TPM is the station's TPM connection.
func (s *Service) TPM() *vault.TPM { return s.tpm }

// Recognizer returns the station's one face recognizer, loading the models on first
// use. Safe from any goroutine; the recognizer itself is not (one owner at a time).
func (s *Service) Recognizer() (*biometrics.Recognizer, error) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if s.rec != nil {
		return s.rec, nil
	}
	r, err := s.op.LoadRecognizer()
	if err != nil {
		return nil, err
	}
	s.rec, s.ownRec = r, true
	return r, nil
}

// LendRecognizer makes r the Service's recognizer without handing over ownership (tests
// share one loaded recognizer between stations).
func (s *Service) LendRecognizer(r *biometrics.Recognizer) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.rec, s.ownRec = r, false
}

// Settings reads the station settings.
func (s *Service) Settings() (vault.Settings, error) { return Settings(s.st) }

// Close closes the recognizer the Service loaded, the station and the TPM connection.
func (s *Service) Close() error {
	s.recMu.Lock()
	if s.rec != nil && s.ownRec {
		s.rec.Close()
	}
	s.rec = nil
	s.recMu.Unlock()
	var err error
	if s.st != nil {
		if cerr := s.st.Close(); cerr != nil {
			err = fmt.Errorf("workflow: closing the station: %w", cerr)
		}
	}
	if s.tpm != nil {
		s.tpm.Close()
	}
	return err
}
