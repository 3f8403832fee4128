package exporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"enrollstation/internal/diskfree"
)

// BundleFile is a complete bundle on disk.
type BundleFile struct {
	ID     string
	Path   string
	SHA256 [32]byte
	Size   int64
}

// Target is where bundles go. Deliver must be idempotent (delivering a bundle again leaves
// one copy) and return only once the target holds the bundle with b.SHA256; it returns a
// description of where the bundle now is.
type Target interface {
	Deliver(ctx context.Context, b BundleFile) (location string, err error)
	String() string
}

// Receipt records that a target confirmed a bundle.
type Receipt struct {
	BundleID    string    `json:"bundle_id"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	Target      string    `json:"target"`
	Location    string    `json:"location"`
	DeliveredAt time.Time `json:"delivered_at"`
}

// Outbox is a directory of built bundles waiting for delivery, surviving restarts: a bundle
// is in the outbox only once completely written, and delivered only once a receipt says so.
type Outbox struct {
	dir  string
	hook func(step string) // tests: called between the steps of an atomic write
}

const (
	partialSuffix = ".partial"
	receiptSuffix = ".delivered.json"
)

// OpenOutbox opens (creating it 0700 if needed) an outbox directory and removes partial
// files left by an interrupted build.
func OpenOutbox(dir string) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("exporter: outbox: %w", err)
	}
	if err := removePartials(dir, ""); err != nil {
		return nil, fmt.Errorf("exporter: outbox: %w", err)
	}
	return &Outbox{dir: dir}, nil
}

// Dir is the outbox directory.
func (o *Outbox) Dir() string { return o.dir }

// Build writes a bundle into the outbox atomically.
func (o *Outbox) Build(p BuildParams) (BundleFile, error) {
	f, err := os.CreateTemp(o.dir, ".build-*"+partialSuffix)
	if err != nil {
		return BundleFile{}, fmt.Errorf("exporter: outbox: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	res, err := Build(f, p)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return BundleFile{}, err
	}
	o.step("partial-written")
	final := filepath.Join(o.dir, res.BundleID+FileExt)
	if err := os.Rename(tmp, final); err != nil {
		return BundleFile{}, fmt.Errorf("exporter: outbox: %w", err)
	}
	if err := syncDir(o.dir); err != nil {
		return BundleFile{}, fmt.Errorf("exporter: outbox: %w", err)
	}
	return BundleFile{ID: res.BundleID, Path: final, SHA256: res.SHA256, Size: res.Size}, nil
}

func (o *Outbox) step(s string) {
	if o.hook != nil {
		o.hook(s)
	}
}

// Bundle returns the outbox's bundle with this ID, hashing it from disk.
func (o *Outbox) Bundle(id string) (BundleFile, error) {
	if !validID.MatchString(id) {
		return BundleFile{}, fmt.Errorf("exporter: outbox: bad bundle ID %q", id)
	}
	p := filepath.Join(o.dir, id+FileExt)
	sum, size, err := hashFile(p)
	if err != nil {
		return BundleFile{}, fmt.Errorf("exporter: outbox: %w", err)
	}
	return BundleFile{ID: id, Path: p, SHA256: sum, Size: size}, nil
}

// Pending lists the bundles without a delivery receipt, oldest first.
func (o *Outbox) Pending() ([]BundleFile, error) {
	ents, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, fmt.Errorf("exporter: outbox: %w", err)
	}
	type item struct {
		id  string
		mod time.Time
	}
	var items []item
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), FileExt)
		if !ok || !e.Type().IsRegular() || !validID.MatchString(id) {
			continue
		}
		if _, err := os.Stat(filepath.Join(o.dir, id+receiptSuffix)); err == nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("exporter: outbox: %w", err)
		}
		items = append(items, item{id, info.ModTime()})
	}
	sort.Slice(items, func(i, j int) bool {
		if !items[i].mod.Equal(items[j].mod) {
			return items[i].mod.Before(items[j].mod)
		}
		return items[i].id < items[j].id
	})
	out := make([]BundleFile, 0, len(items))
	for _, it := range items {
		b, err := o.Bundle(it.id)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Receipt returns the delivery receipt of a bundle, or an error wrapping ErrNotDelivered.
func (o *Outbox) Receipt(id string) (Receipt, error) {
	var r Receipt
	b, err := os.ReadFile(filepath.Join(o.dir, id+receiptSuffix))
	if errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("exporter: bundle %s: %w", id, ErrNotDelivered)
	}
	if err != nil {
		return r, fmt.Errorf("exporter: outbox: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("exporter: outbox: receipt of %s: %w", id, err)
	}
	return r, nil
}

// Deliver sends one outbox bundle to t unless a receipt says it was delivered already, then
// records the receipt. Only a returned receipt means the bundle is exported.
func (o *Outbox) Deliver(ctx context.Context, t Target, id string) (Receipt, error) {
	if r, err := o.Receipt(id); err == nil {
		return r, nil
	} else if !errors.Is(err, ErrNotDelivered) {
		return Receipt{}, err
	}
	b, err := o.Bundle(id)
	if err != nil {
		return Receipt{}, err
	}
	loc, err := t.Deliver(ctx, b)
	if err != nil {
		return Receipt{}, err
	}
	r := Receipt{BundleID: id, SHA256: hex.EncodeToString(b.SHA256[:]), Size: b.Size, Target: t.String(),
		Location: loc, DeliveredAt: time.Now().UTC()}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return Receipt{}, err
	}
	if err := writeFileAtomic(o.dir, id+receiptSuffix, func(w io.Writer) error {
		_, err := w.Write(append(js, '\n'))
		return err
	}, nil); err != nil {
		return Receipt{}, fmt.Errorf("exporter: outbox: recording receipt: %w", err)
	}
	return r, nil
}

// writeFileAtomic writes dir/name via dir/.name.partial: write, fsync, rename, fsync dir,
// so dir/name is either absent or complete. hook, if set, runs between the steps.
func writeFileAtomic(dir, name string, write func(io.Writer) error, hook func(string)) error {
	tmp := filepath.Join(dir, "."+name+partialSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if hook != nil {
		hook("partial-written")
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	if hook != nil {
		hook("renamed")
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems (e.g. vfat on USB sticks via some drivers) refuse fsync on a
	// directory; the rename is then as durable as that file system makes it.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// removePartials deletes leftovers of interrupted writes (for one name, or all if name is "").
func removePartials(dir, name string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") && strings.HasSuffix(n, partialSuffix) && (name == "" || n == "."+name+partialSuffix) {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// hashFile returns the SHA-256 and size of a file, dropping it from the page cache first
// where possible so that removable media are really re-read.
func hashFile(path string) ([32]byte, int64, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	dropCache(f)
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return sum, 0, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
}

// spaceMargin is room kept on a target beyond the bundle itself (file system metadata).
const spaceMargin = 1 << 20

// DirTarget delivers bundles into a directory, e.g. a mounted USB stick.
type DirTarget struct {
	Dir  string
	hook func(step string) // tests: called between the steps of the copy
}

func (d *DirTarget) String() string { return "dir:" + d.Dir }

// Deliver copies the bundle to Dir/<id>.esb atomically and re-reads it to check the hash.
// Every file on the medium is opened relative to the directory (openat) and never through
// a symbolic link (O_NOFOLLOW), so a link planted on the medium cannot redirect the copy
// outside it (reason symlink); the directory itself is not a link either.
func (d *DirTarget) Deliver(ctx context.Context, b BundleFile) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	name := b.ID + FileExt
	tmp := "." + name + partialSuffix
	final := filepath.Join(d.Dir, name)
	dfd, err := unix.Open(d.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) && isSymlink(d.Dir):
		return "", coded(CodeSymlink, ErrNotDelivered, "%s is a symbolic link: give the medium's directory itself", d.Dir)
	case err != nil:
		return "", fmt.Errorf("exporter: target directory %s is not available (is the medium mounted?): %w", d.Dir, ErrNotDelivered)
	}
	defer unix.Close(dfd)
	symlinkErr := func(n string) error {
		return coded(CodeSymlink, ErrNotDelivered, "%s on %s is a symbolic link, not a bundle: remove it; nothing was written", n, d.Dir)
	}
	if sum, _, err := hashAt(dfd, name); err == nil {
		if sum == b.SHA256 {
			return final, nil
		}
		return "", fmt.Errorf("exporter: %s already holds a different bundle with ID %s: %w", d.Dir, b.ID, ErrNotDelivered)
	} else if errors.Is(err, unix.ELOOP) {
		return "", symlinkErr(name)
	}
	// Say so before copying rather than fill the medium and fail (a stale partial copy from
	// an earlier attempt is replaced, so its space counts as free).
	if free, err := diskfree.Free(d.Dir); err == nil {
		var st unix.Stat_t
		if unix.Fstatat(dfd, tmp, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			free += uint64(st.Size)
		}
		if need := uint64(b.Size) + spaceMargin; free < need {
			return "", &NoSpaceError{Dir: d.Dir, Free: free, Need: need}
		}
	}
	src, err := os.Open(b.Path)
	if err != nil {
		return "", fmt.Errorf("exporter: %w", err)
	}
	defer src.Close()
	if err := copyAt(dfd, tmp, name, src, d.hook); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			free, _ := diskfree.Free(d.Dir)
			return "", &NoSpaceError{Dir: d.Dir, Free: free, Need: uint64(b.Size) + spaceMargin}
		}
		if errors.Is(err, unix.ELOOP) {
			return "", symlinkErr(tmp)
		}
		return "", fmt.Errorf("exporter: copying %s to %s: %v: %w", b.ID, d.Dir, err, ErrNotDelivered)
	}
	// Only what the medium gives back counts.
	sum, size, err := hashAt(dfd, name)
	if err != nil || sum != b.SHA256 || size != b.Size {
		unix.Unlinkat(dfd, name, 0) // never leave a corrupt bundle that looks complete
		return "", fmt.Errorf("exporter: %s: re-read of %s does not match what was written (%v): %w", d.Dir, name, err, ErrNotDelivered)
	}
	return final, nil
}

func isSymlink(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.Mode()&fs.ModeSymlink != 0
}

// copyAt writes src to dir/tmp (a new file: an old partial copy or a link in its place is
// removed first, never followed), fsyncs it, renames it to dir/name and fsyncs dir.
func copyAt(dfd int, tmp, name string, src io.Reader, hook func(string)) error {
	if err := unix.Unlinkat(dfd, tmp, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = io.Copy(f, src)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return err
	}
	if hook != nil {
		hook("partial-written")
	}
	// renameat replaces a link that appeared at name since the check; it never follows it.
	if err := unix.Renameat(dfd, tmp, dfd, name); err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return err
	}
	if hook != nil {
		hook("renamed")
	}
	if err := unix.Fsync(dfd); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("syncing the directory: %w", err)
	}
	return nil
}

// hashAt hashes dir/name, opened without following a link and dropped from the page
// cache first so that removable media are really re-read.
func hashAt(dfd int, name string) ([32]byte, int64, error) {
	var sum [32]byte
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return sum, 0, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return sum, 0, fmt.Errorf("%s is not a regular file", name)
	}
	dropCache(f)
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return sum, 0, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
}

// ackSeqFile keeps the sequence of the last issuer acknowledgement imported, so that an
// older or repeated acknowledgement is refused (CheckAck).
const ackSeqFile = "last-ack-seq"

// LastAckSeq is the sequence of the last acknowledgement recorded with RecordAck, 0 if none.
func (o *Outbox) LastAckSeq() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(o.dir, ackSeqFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("exporter: outbox: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("exporter: outbox: %s is damaged (%v): restore it from the audit log's last batch.issuer-ack entry", ackSeqFile, err)
	}
	return n, nil
}

// RecordAck keeps an imported acknowledgement beside its bundle (<bundle-id>.ack) and
// makes its sequence the last one imported.
func (o *Outbox) RecordAck(a *Ack, raw []byte) error {
	if !validID.MatchString(a.BundleID) {
		return fmt.Errorf("exporter: outbox: bad bundle ID %q", a.BundleID)
	}
	write := func(name string, b []byte) error {
		return writeFileAtomic(o.dir, name, func(w io.Writer) error { _, err := w.Write(b); return err }, nil)
	}
	if err := write(a.BundleID+".ack", raw); err != nil {
		return fmt.Errorf("exporter: outbox: keeping the acknowledgement: %w", err)
	}
	if err := write(ackSeqFile, []byte(strconv.FormatUint(a.Seq, 10)+"\n")); err != nil {
		return fmt.Errorf("exporter: outbox: recording the acknowledgement sequence: %w", err)
	}
	return nil
}
