package exporter

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"enrollstation/exporter/internal/jsonprofile"
)

// Upload protocol constants (see docs/bundle-format.md, "HTTPS upload").
const (
	bundleContentType = "application/vnd.enrollstation.bundle"
	headerIdempotency = "Idempotency-Key"
	headerBundleHash  = "X-Bundle-SHA256"
)

// uploadResponse is the receiver's confirmation.
type uploadResponse struct {
	BundleID string `json:"bundle_id"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
}

// HTTPTarget uploads bundles to a receiver over HTTPS with mutual TLS: the station
// authenticates with a client certificate whose key is its signing key (in the TPM), and
// the receiver accepts only registered stations. Redirects are never followed.
type HTTPTarget struct {
	URL string // base URL, https, without user info, query or fragment; bundles go to URL/bundles/<id>
	// ClientCert is the station's TLS client certificate (StationClientCertificate).
	// Required unless Client is set.
	ClientCert *tls.Certificate
	// RootCAs verify the receiver's server certificate; nil: the system's roots.
	RootCAs *x509.CertPool
	// Client, when set, is used as it is (tests); redirects are still not followed.
	Client     *http.Client
	Attempts   int // default 8
	Backoff    time.Duration
	MaxBackoff time.Duration // defaults 1 s and 1 min
}

func (h *HTTPTarget) String() string { return h.URL }

// ParseTarget turns an export destination into a Target: an https:// URL or a directory.
// A URL with user info, a query or a fragment is refused (reason credentials-in-url)
// and its text is neither printed nor kept: secrets do not belong in a URL that is
// logged and stored with every batch; the station authenticates with its TPM key.
func ParseTarget(s string) (Target, error) {
	if scheme, _, ok := strings.Cut(s, "://"); ok && !strings.ContainsAny(scheme, "/\\") {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("exporter: the upload URL is not a valid https URL: %w", ErrNotDelivered)
		}
		if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(u.Host, "@") {
			return nil, coded(CodeCredentialsInURL, ErrNotDelivered,
				"the upload URL for %s carries user info, a query or a fragment; give the base URL only (the station authenticates with its TLS client certificate)", u.Hostname())
		}
		if u.Scheme != "https" {
			return nil, fmt.Errorf("exporter: refusing %s to %s: use https (the receiver authenticates the station by its TLS client certificate): %w", u.Scheme, u.Host, ErrNotDelivered)
		}
		return &HTTPTarget{URL: strings.TrimRight(u.String(), "/")}, nil
	}
	if s == "" {
		return nil, errors.New("exporter: empty export destination")
	}
	return &DirTarget{Dir: s}, nil
}

// retryable is an upload failure worth trying again.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

// Deliver uploads the bundle, retrying network errors, 408, 422, 429 and 5xx with
// exponential backoff, and returns the bundle URL once the receiver confirms its hash.
func (h *HTTPTarget) Deliver(ctx context.Context, b BundleFile) (string, error) {
	client, err := h.client()
	if err != nil {
		return "", err
	}
	attempts, backoff, maxBackoff := h.Attempts, h.Backoff, h.MaxBackoff
	if attempts <= 0 {
		attempts = 8
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	if maxBackoff <= 0 {
		maxBackoff = time.Minute
	}
	loc := h.URL + "/bundles/" + url.PathEscape(b.ID)
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			// Full jitter: spread retries of many stations after an outage.
			d := backoff << min(i-1, 20)
			if d > maxBackoff || d <= 0 {
				d = maxBackoff
			}
			j, _ := rand.Int(rand.Reader, big.NewInt(int64(d)/2+1))
			t := time.NewTimer(d/2 + time.Duration(j.Int64()))
			select {
			case <-ctx.Done():
				t.Stop()
				return "", fmt.Errorf("exporter: upload of %s: %w (last error: %v)", b.ID, ctx.Err(), last)
			case <-t.C:
			}
		}
		err := h.put(ctx, client, loc, b)
		if err == nil {
			return loc, nil
		}
		last = err
		var r retryable
		if !errors.As(err, &r) {
			break
		}
	}
	if errors.Is(last, ErrNotDelivered) {
		return "", fmt.Errorf("exporter: upload of %s to %s failed: %w", b.ID, h.URL, last)
	}
	return "", fmt.Errorf("exporter: upload of %s to %s failed: %w: %w", b.ID, h.URL, last, ErrNotDelivered)
}

// noRedirect stops the client at a redirect: a PUT that became a GET to another place
// (or plain http) must never count as a delivery.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (h *HTTPTarget) client() (*http.Client, error) {
	if h.Client != nil {
		c := *h.Client
		c.CheckRedirect = noRedirect
		return &c, nil
	}
	if h.ClientCert == nil {
		return nil, fmt.Errorf("exporter: upload to %s: no station client certificate: %w", h.URL, ErrNotDelivered)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the receiver is reached directly: no proxy sees or rewrites the upload
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: h.RootCAs, Certificates: []tls.Certificate{*h.ClientCert}}
	return &http.Client{Timeout: 10 * time.Minute, Transport: tr, CheckRedirect: noRedirect}, nil
}

// StationClientCertificate makes the station's TLS client certificate: self-signed by
// the station key (a crypto.Signer, e.g. in the TPM), so that the receiver identifies the
// station by its registered public key. The key never leaves the signer.
func StationClientCertificate(signer crypto.Signer, now time.Time) (*tls.Certificate, error) {
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("exporter: station key is %T, want ECDSA P-256: %w", signer.Public(), ErrBadKey)
	}
	id, err := StationID(pub)
	if err != nil {
		return nil, err
	}
	serial := new(big.Int).SetBytes(id[:16])
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "enrollstation station " + hex.EncodeToString(id[:])},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("exporter: making the station's client certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: signer,
		SupportedSignatureAlgorithms: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}}, nil
}

func (h *HTTPTarget) put(ctx context.Context, client *http.Client, loc string, b BundleFile) error {
	f, err := os.Open(b.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, loc, f)
	if err != nil {
		return err
	}
	req.ContentLength = b.Size
	req.Header.Set("Content-Type", bundleContentType)
	req.Header.Set(headerIdempotency, b.ID)
	req.Header.Set(headerBundleHash, hex.EncodeToString(b.SHA256[:]))
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return retryable{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return retryable{fmt.Errorf("reading response: %w", err)}
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		// The Location is not printed: it may carry what does not belong in logs.
		return coded(CodeRedirect, ErrNotDelivered, "the receiver answered %s, a redirect; redirects are not followed", resp.Status)
	case resp.StatusCode == http.StatusForbidden:
		return coded(CodeUnregisteredClient, ErrNotDelivered, "the receiver refused this station (%s): register its key with the issuer", Escape(strings.TrimSpace(string(body))))
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated:
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusUnprocessableEntity ||
		resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return retryable{fmt.Errorf("receiver answered %s", resp.Status)}
	default:
		return fmt.Errorf("receiver answered %s: %s", resp.Status, Escape(strings.TrimSpace(string(body))))
	}
	var ur uploadResponse
	if err := jsonprofile.Decode(bytes.TrimSpace(body), &ur); err != nil {
		return retryable{fmt.Errorf("receiver's confirmation is not JSON: %v", err)}
	}
	if ur.BundleID != b.ID || ur.SHA256 != hex.EncodeToString(b.SHA256[:]) || ur.Size != b.Size {
		return fmt.Errorf("receiver confirmed %s (%s, %d bytes), want %s (%x, %d bytes)", ur.BundleID, ur.SHA256, ur.Size, b.ID, b.SHA256, b.Size)
	}
	return nil
}

// Receiver is the reference upload receiver: it stores bundles in Dir as <id>.esb, durably
// and idempotently by bundle ID, from registered stations only: a request must come over
// TLS with a client certificate whose public key is a registered station's (serve it with
// TLSConfig). It does not verify
// bundles (the issuer does that with Open, offline if it likes); it only guarantees they
// arrive intact and from a registered station.
type Receiver struct {
	Dir     string
	MaxSize int64 // default 4 GiB

	stations map[[32]byte]bool // registered station IDs
	mu       sync.Mutex        // one store at a time keeps "exists?" and "rename" consistent
}

// NewReceiver returns a receiver storing into dir bundles uploaded by the given stations.
func NewReceiver(dir string, stations ...*ecdsa.PublicKey) *Receiver {
	rc := &Receiver{Dir: dir, stations: map[[32]byte]bool{}}
	for _, k := range stations {
		if id, err := StationID(k); err == nil {
			rc.stations[id] = true
		}
	}
	return rc
}

// registered reports whether a client certificate's key is a registered station's.
func (rc *Receiver) registered(certs []*x509.Certificate) bool {
	if len(certs) == 0 {
		return false
	}
	pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return false
	}
	id, err := StationID(pub)
	return err == nil && rc.stations[id]
}

// TLSConfig is the server TLS configuration for the receiver: TLS 1.3, serverCerts as the
// server's certificates, a client certificate required and accepted only when its key is
// a registered station's (self-signed: the key is what is registered, not a CA). The
// handshake requires a certificate signed by its own key; ServeHTTP then refuses every
// request whose key is not registered with 403 and reason unregistered-station, before
// reading the body.
func (rc *Receiver) TLSConfig(serverCerts ...tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: serverCerts,
		ClientAuth:   tls.RequireAnyClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no client certificate")
			}
			c, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				return fmt.Errorf("client certificate is not signed by its own key: %v", err)
			}
			return nil // registration is checked per request, so the station hears why (403)
		},
	}
}

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || !rc.registered(r.TLS.PeerCertificates) {
		http.Error(w, CodeUnregisteredClient+": only registered stations may upload (TLS client certificate)", http.StatusForbidden)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/bundles/")
	if !ok || !validID.MatchString(id) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPut {
		http.Error(w, "use PUT", http.StatusMethodNotAllowed)
		return
	}
	if k := r.Header.Get(headerIdempotency); k != "" && k != id {
		http.Error(w, "Idempotency-Key must equal the bundle ID", http.StatusBadRequest)
		return
	}
	var want [32]byte
	if err := decodeHex32(r.Header.Get(headerBundleHash), &want); err != nil {
		http.Error(w, headerBundleHash+" header missing or malformed", http.StatusBadRequest)
		return
	}
	max := rc.MaxSize
	if max <= 0 {
		max = 4 << 30
	}
	if r.ContentLength < 0 {
		http.Error(w, "Content-Length required", http.StatusLengthRequired)
		return
	}
	if r.ContentLength > max {
		http.Error(w, "bundle too large", http.StatusRequestEntityTooLarge)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	final := filepath.Join(rc.Dir, id+FileExt)
	if sum, size, err := hashFile(final); err == nil {
		if sum != want {
			http.Error(w, "a different bundle with this ID is already stored", http.StatusConflict)
			return
		}
		writeConfirmation(w, http.StatusOK, id, sum, size)
		return
	}
	var sum [32]byte
	var size int64
	err := writeFileAtomic(rc.Dir, id+FileExt, func(dst io.Writer) error {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(dst, h), http.MaxBytesReader(w, r.Body, max))
		if err != nil {
			return err
		}
		copy(sum[:], h.Sum(nil))
		size = n
		if sum != want {
			return errHashMismatch
		}
		return nil
	}, nil)
	switch {
	case errors.Is(err, errHashMismatch):
		http.Error(w, "received bytes do not match "+headerBundleHash, http.StatusUnprocessableEntity)
		return
	case err != nil:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "bundle too large", http.StatusRequestEntityTooLarge)
			return
		}
		if errors.Is(err, syscall.ENOSPC) {
			// 507: a server-side condition, so the station retries; nothing was kept.
			http.Error(w, "the receiver's disk is full; nothing was stored", http.StatusInsufficientStorage)
			return
		}
		http.Error(w, "could not store the bundle", http.StatusInternalServerError)
		return
	}
	writeConfirmation(w, http.StatusCreated, id, sum, size)
}

var errHashMismatch = errors.New("hash mismatch")

func writeConfirmation(w http.ResponseWriter, status int, id string, sum [32]byte, size int64) {
	b, _ := json.Marshal(uploadResponse{BundleID: id, SHA256: hex.EncodeToString(sum[:]), Size: size})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
