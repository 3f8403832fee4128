package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/y"
	"google.golang.org/protobuf/proto"
)

// Store file errors. badger, opened on a directory, creates whatever is missing: a
// missing MANIFEST becomes an empty one and every table it no longer lists is deleted,
// a missing KEYREGISTRY becomes a new one under which no table decrypts. So the store's
// files are checked before badger is opened, and a store is only ever created by
// CreateStore (station init).
var (
	// ErrStoreMissing: the store directory is missing or empty (never provisioned, or
	// deleted). Only `station init` creates a store.
	ErrStoreMissing = errors.New("vault: the store is missing (not provisioned, or deleted): restore it from a backup or provision the station with 'enrollstation station init'")
	// ErrStoreDamaged: the store's files do not match its MANIFEST.
	ErrStoreDamaged = errors.New("vault: the store's files are damaged or incomplete")
	// ErrStoreExists: CreateStore (station init) found store data it would destroy.
	ErrStoreExists = errors.New("vault: store data already exists")
	// ErrStoreFormat: the store was written by an older release without record
	// authentication (format 1); it must be re-provisioned.
	ErrStoreFormat = errors.New("vault: this store has format 1 (records without authentication), which this release does not open; export what you need with the previous release, then re-provision the station (station init --wipe-existing-store)")
)

// StoreFile is one file of a store directory.
type StoreFile struct {
	Name string
	Size int64
}

func (f StoreFile) String() string { return fmt.Sprintf("%s (%s)", f.Name, humanSize(f.Size)) }

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// StoreError names the store directory, what is wrong and the files involved.
// It matches its Kind (ErrStoreMissing, ErrStoreDamaged or ErrStoreExists).
type StoreError struct {
	Kind     error
	Dir      string
	Problems []string    // e.g. "MANIFEST is missing"
	Files    []StoreFile // the files found
}

func (e *StoreError) Error() string {
	var b strings.Builder
	switch e.Kind {
	case ErrStoreMissing:
		fmt.Fprintf(&b, "the station's store %s is missing or empty (not provisioned, or deleted); it is not recreated: restore it from a backup, or provision a new station with 'enrollstation station init'", e.Dir)
	case ErrStoreExists:
		fmt.Fprintf(&b, "store data already exists in %s", e.Dir)
	default:
		fmt.Fprintf(&b, "the station's store %s is damaged: %s; nothing was changed: restore the store from a backup", e.Dir, strings.Join(e.Problems, "; "))
	}
	if len(e.Files) > 0 {
		names := make([]string, len(e.Files))
		for i, f := range e.Files {
			names[i] = f.String()
		}
		fmt.Fprintf(&b, " (files: %s)", strings.Join(names, ", "))
	}
	return b.String()
}

func (e *StoreError) Is(target error) bool { return target == e.Kind }

// StoreFiles lists the files of a store directory (none when it does not exist).
func StoreFiles(dir string) ([]StoreFile, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: listing store %s: %w", dir, err)
	}
	var out []StoreFile
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("vault: listing store %s: %w", dir, err)
		}
		out = append(out, StoreFile{Name: e.Name(), Size: info.Size()})
	}
	return out, nil
}

// checkStoreFiles checks, without changing anything, that dir holds a store badger can
// open without creating or deleting files: MANIFEST and KEYREGISTRY present, every table
// the MANIFEST lists present with an intact index (its checksum verifies). Tables the
// MANIFEST does not list are left to badger, which deletes them: a crash leaves such
// tables behind (a flush written but not yet recorded, or a compaction recorded but its
// inputs not yet removed), with IDs above and below the listed ones.
func checkStoreFiles(dir string, encrypted bool) error {
	files, err := StoreFiles(dir)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return &StoreError{Kind: ErrStoreMissing, Dir: dir}
	}
	have := map[string]bool{}
	for _, f := range files {
		have[f.Name] = true
	}
	damaged := func(problems ...string) error {
		return &StoreError{Kind: ErrStoreDamaged, Dir: dir, Problems: problems, Files: files}
	}
	var problems []string
	if !have["MANIFEST"] {
		problems = append(problems, "MANIFEST is missing (badger would start an empty store and delete every table)")
	}
	if encrypted && !have["KEYREGISTRY"] {
		problems = append(problems, "KEYREGISTRY is missing (the tables' data keys are gone)")
	}
	if len(problems) > 0 {
		return damaged(problems...)
	}
	fp, err := os.Open(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		return damaged(fmt.Sprintf("MANIFEST cannot be read: %v", err))
	}
	opts := badger.DefaultOptions(dir)
	mf, _, err := badger.ReplayManifestFile(fp, opts.ExternalMagicVersion, opts)
	fp.Close()
	if err != nil {
		return damaged(fmt.Sprintf("MANIFEST is unreadable: %v", err))
	}
	ids := make([]uint64, 0, len(mf.Tables))
	for id := range mf.Tables {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		name := tableName(id)
		if !have[name] {
			problems = append(problems, fmt.Sprintf("table %s listed in MANIFEST is missing", name))
			continue
		}
		if err := checkTable(filepath.Join(dir, name)); err != nil {
			problems = append(problems, fmt.Sprintf("table %s is damaged: %v", name, err))
		}
	}
	if len(problems) > 0 {
		return damaged(problems...)
	}
	return nil
}

func tableName(id uint64) string { return fmt.Sprintf("%06d.sst", id) }

// checkTable verifies a table's footer and index checksum, as badger's table.OpenTable
// would, but with bounds checks: badger slices the file by lengths read from it before
// checking anything, and panics on a truncated table.
func checkTable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	pos := size
	// take reads the n bytes before pos (only the footer and index are read).
	take := func(n int64) ([]byte, error) {
		if n < 0 || n > pos {
			return nil, fmt.Errorf("truncated (%d bytes)", size)
		}
		pos -= n
		b := make([]byte, n)
		if _, err := f.ReadAt(b, pos); err != nil {
			return nil, err
		}
		return b, nil
	}
	lb, err := take(4)
	if err != nil {
		return err
	}
	cb, err := take(int64(y.BytesToU32(lb)))
	if err != nil {
		return err
	}
	var chk pb.Checksum
	if err := proto.Unmarshal(cb, &chk); err != nil {
		return fmt.Errorf("footer unreadable (truncated?): %v", err)
	}
	if lb, err = take(4); err != nil {
		return err
	}
	idx, err := take(int64(y.BytesToU32(lb)))
	if err != nil {
		return err
	}
	if len(idx) == 0 {
		return fmt.Errorf("empty index (truncated?)")
	}
	if err := y.VerifyChecksum(idx, &chk); err != nil {
		return fmt.Errorf("index checksum does not verify (truncated or altered)")
	}
	return nil
}
