// Package testkit is what the tests of several packages share: an Opener over real
// resources, the fast KDF, an example citizen and a station-with-users builder.
package testkit

import (
	"enrollstation/biometrics"
	"enrollstation/vault"
)

// Opener opens the real TPM, store and models as main does in production (tests may
// open them; the program opens them only in main.go). It implements enroll.Opener.
type Opener struct {
	Data   string       // station data directory
	TPM    string       // TPM spec (e.g. a swtpm's address)
	Models string       // dlib models directory
	Config vault.Config // what OpenStation opens with
}

func (o Opener) OpenTPM() (*vault.TPM, error) { return vault.OpenTPM(o.TPM, o.Data) }

func (o Opener) OpenStation(tp *vault.TPM) (*vault.Station, error) {
	return vault.Open(o.Data, tp, o.Config)
}

func (o Opener) InitStation(tp *vault.TPM, c vault.Config, io vault.InitOptions) (*vault.Station, error) {
	return vault.Init(o.Data, tp, c, io)
}

func (o Opener) LoadRecognizer() (*biometrics.Recognizer, error) {
	return biometrics.NewRecognizer(o.Models)
}
