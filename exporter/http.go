package exporter

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
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

// HTTPTarget uploads bundles to a receiver over HTTPS.
type HTTPTarget struct {
	URL        string       // base URL; bundles go to URL/bundles/<id>
	Client     *http.Client // nil: a client with a 10-minute timeout
	Attempts   int          // default 8
	Backoff    time.Duration
	MaxBackoff time.Duration // defaults 1 s and 1 min
}

func (h *HTTPTarget) String() string { return h.URL }

// ParseTarget turns an export destination into a Target: an https:// URL (http:// only to
// a loopback address) or a directory.
func ParseTarget(s string) (Target, error) {
	if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("exporter: bad upload URL %q", s)
		}
		if u.Scheme == "http" {
			ip := net.ParseIP(u.Hostname())
			if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return nil, fmt.Errorf("exporter: refusing plain http to %s: use https", u.Host)
			}
		}
		return &HTTPTarget{URL: strings.TrimRight(s, "/")}, nil
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
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
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
	return "", fmt.Errorf("exporter: upload of %s to %s failed: %v: %w", b.ID, h.URL, last, ErrNotDelivered)
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
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated:
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusUnprocessableEntity ||
		resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return retryable{fmt.Errorf("receiver answered %s", resp.Status)}
	default:
		return fmt.Errorf("receiver answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var ur uploadResponse
	if err := json.Unmarshal(body, &ur); err != nil {
		return retryable{fmt.Errorf("receiver's confirmation is not JSON: %v", err)}
	}
	if ur.BundleID != b.ID || ur.SHA256 != hex.EncodeToString(b.SHA256[:]) || ur.Size != b.Size {
		return fmt.Errorf("receiver confirmed %s (%s, %d bytes), want %s (%x, %d bytes)", ur.BundleID, ur.SHA256, ur.Size, b.ID, b.SHA256, b.Size)
	}
	return nil
}

// Receiver is the reference upload receiver: it stores bundles in Dir as <id>.esb, durably
// and idempotently by bundle ID. It does not verify bundles (the issuer does that with
// Open, offline if it likes); it only guarantees they arrive intact.
type Receiver struct {
	Dir     string
	MaxSize int64 // default 4 GiB

	mu sync.Mutex // one store at a time keeps "exists?" and "rename" consistent
}

// NewReceiver returns a receiver storing into dir.
func NewReceiver(dir string) *Receiver { return &Receiver{Dir: dir} }

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
