package exporter

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Benchmarks for docs/PERFORMANCE.md (exporter section). Run each in its own process so that peak-RSS (the
// process's VmHWM) belongs to that benchmark alone:
//
//	go test ./exporter -run '^$' -bench 'Export500$' -benchtime 3x -count 5
//	go test ./exporter -run '^$' -bench 'ExportStation500$' -benchtime 3x -count 5
//	go test ./exporter -run '^$' -bench 'Verify500$' -benchtime 3x -count 5
//	go test ./exporter -run '^$' -bench 'ExportCPU500$' -benchtime 3x -count 5
//	go test ./exporter -run '^$' -bench 'VerifyCollect500$' -benchtime 3x -count 5
//	go test ./exporter -run '^$' -bench 'AESGCM500$' -count 5
//	go test ./exporter -run '^$' -bench 'Floor' -benchtime 5x -count 5

const benchRecords = 500

// peakRSSMB reads the process's peak resident set size from /proc/self/status.
func peakRSSMB(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// cpuSeconds is the process's user+system CPU time so far: unlike wall time it barely
// moves when other processes compete for the cores.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// benchBundle writes one 500-record bundle made from the test photos to a file.
func benchBundle(b *testing.B, f fixture) (string, Result) {
	recs := f.photoRecords(b, benchRecords)
	path := filepath.Join(b.TempDir(), "bench.esb")
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(out, 256<<10)
	res, err := Build(w, f.params(recs, 1, nil))
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		b.Fatal(err)
	}
	out.Close()
	return path, res
}

func BenchmarkExport500(b *testing.B) {
	f := newFixture(b)
	benchExportFile(b, f.params(f.photoRecords(b, benchRecords), 1, nil))
}

// BenchmarkExportStation500 is Export500 the way the station exports: records read from
// a RecordSource that is not in memory (vault loads them one at a time, so Build rehashes
// what it streams) and approved with signed statements naming the portrait and template
// hashes.
func BenchmarkExportStation500(b *testing.B) {
	f := newFixture(b)
	recs := f.photoRecords(b, benchRecords)
	for i := range recs {
		recs[i] = f.statementApproval(b, recs[i], recs[i].EnrollmentID)
	}
	p := f.params(recs, 1, nil)
	p.Records = sourceOf(recs)
	benchExportFile(b, p)
}

// sourceOf hides that recs are in memory, as a storage-backed RecordSource would.
type sourceOf []Record

func (s sourceOf) Len() int                     { return len(s) }
func (s sourceOf) Record(i int) (Record, error) { return s[i], nil }

// outFiles hands each iteration of a file-writing benchmark a new file, as every export
// writes a new bundle: the previous iteration's file is removed with the timer stopped, so
// freeing its page cache (what truncating it would cost) is not timed, nor its CPU counted.
type outFiles struct {
	dir    string
	paused float64 // CPU seconds spent removing, to subtract from cpu-s/op
}

func (o *outFiles) next(b *testing.B, i int) string {
	if i > 0 {
		b.StopTimer()
		c := cpuSeconds()
		os.Remove(filepath.Join(o.dir, strconv.Itoa(i-1)))
		o.paused += cpuSeconds() - c
		b.StartTimer()
	}
	return filepath.Join(o.dir, strconv.Itoa(i))
}

// benchExportFile builds p into a new file through a 256 KiB buffer, as Outbox.Build does
// (minus the fsync, which measures the disk).
func benchExportFile(b *testing.B, p BuildParams) {
	files := &outFiles{dir: b.TempDir()}
	var size int64
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		out, err := os.Create(files.next(b, i))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(out, 256<<10)
		res, err := Build(w, p)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			b.Fatal(err)
		}
		out.Close()
		size = res.Size
	}
	b.ReportMetric((cpuSeconds()-cpu0-files.paused)/float64(b.N), "cpu-s/op")
	b.SetBytes(size)
	b.ReportMetric(peakRSSMB(b), "peak-RSS-MB")
}

// BenchmarkExportCPU500 is Export500 writing to io.Discard: the export pipeline's own
// cost, comparable with BenchmarkAESGCM500 (which writes nothing either).
func BenchmarkExportCPU500(b *testing.B) {
	f := newFixture(b)
	p := f.params(f.photoRecords(b, benchRecords), 1, nil)
	var size int64
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		res, err := Build(io.Discard, p)
		if err != nil {
			b.Fatal(err)
		}
		size = res.Size
	}
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	b.SetBytes(size)
	b.ReportMetric(peakRSSMB(b), "peak-RSS-MB")
}

func BenchmarkVerify500(b *testing.B) {
	f := newFixture(b)
	path, res := benchBundle(b, f)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		_, err = Open(in, f.issuer, &f.station.PublicKey, OpenOptions{OnRecord: func(Record) error { n++; return nil }})
		in.Close()
		if err != nil || n != benchRecords {
			b.Fatalf("%d records: %v", n, err)
		}
	}
	b.SetBytes(res.Size)
	b.ReportMetric(peakRSSMB(b), "peak-RSS-MB")
}

// BenchmarkVerifyCollect500 is Verify500 keeping every record in Bundle.Records, as
// `enrollstation verify --open` does: memory grows with the bundle.
func BenchmarkVerifyCollect500(b *testing.B) {
	f := newFixture(b)
	path, res := benchBundle(b, f)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		bundle, err := Open(in, f.issuer, &f.station.PublicKey, OpenOptions{})
		in.Close()
		if err != nil || len(bundle.Records) != benchRecords {
			b.Fatalf("%v", err)
		}
	}
	b.SetBytes(res.Size)
	b.ReportMetric(peakRSSMB(b), "peak-RSS-MB")
}

// benchPayloadSize is the number of payload bytes Export500's records make.
func benchPayloadSize(b *testing.B, f fixture) int64 {
	var total int64
	for _, r := range f.photoRecords(b, benchRecords) {
		m, err := encodeMembers(r, formatVersion)
		if err != nil {
			b.Fatal(err)
		}
		for _, x := range m {
			total += int64(len(x))
		}
	}
	return total
}

// BenchmarkFloorSealWrite500 is the floor under any encrypted export to a file on this
// machine: AES-256-GCM over Export500's byte count in 64 KiB chunks, spread over every core,
// each sealed chunk written in order to a file through the same 256 KiB buffer as
// benchExportFile. No hashing, no signatures, no format: nothing that exports to a file here
// can be faster than this.
func BenchmarkFloorSealWrite500(b *testing.B) { benchFloor(b, true, false, false) }

// BenchmarkFloorSealCtHashWrite500 is FloorSealWrite500 plus a SHA-256 of every sealed
// chunk on the sealing core (a ciphertext hash that parallelises, e.g. a hash list): the
// floor for a format whose member hashes come from storage, not from the export.
func BenchmarkFloorSealCtHashWrite500(b *testing.B) { benchFloor(b, true, false, true) }

// BenchmarkFloorSealWriteAt500 is FloorSealWrite500 with each worker writing its own sealed
// 256 KiB runs straight to their offsets (WriteAt), so the writes too are spread over the
// cores, as a format with fixed chunk positions could. On ext4 it is no faster: buffered
// writes to one file take the inode lock, so the page-cache copy stays serial.
func BenchmarkFloorSealWriteAt500(b *testing.B) {
	total, chunks, pt, workers, files := floorSetup(b)
	const run = 4 // chunks per write: 256 KiB, as benchExportFile's buffer
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		out, err := os.Create(files.next(b, i))
		if err != nil {
			b.Fatal(err)
		}
		errs := make(chan error, workers)
		for k := range workers {
			go func(k int) {
				block, _ := aes.NewCipher(make([]byte, 32))
				gcm, _ := cipher.NewGCM(block)
				nonce := make([]byte, 12)
				buf := make([]byte, 0, run*(chunkSize+tagSize))
				for g := k; g*run < chunks; g += workers {
					buf = buf[:0]
					for c := g * run; c < min(chunks, g*run+run); c++ {
						binary.BigEndian.PutUint64(nonce[4:], uint64(c))
						buf = gcm.Seal(buf, nonce, pt[:min(chunkSize, total-int64(c)*chunkSize)], nil)
					}
					if _, err := out.WriteAt(buf, int64(g*run)*(chunkSize+tagSize)); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}(k)
		}
		for range workers {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		out.Close()
	}
	b.ReportMetric((cpuSeconds()-cpu0-files.paused)/float64(b.N), "cpu-s/op")
}

// BenchmarkFloorSealHashCPU500 is the floor under exports that hash what they carry, as the
// issue requires (every member's SHA-256, a hash of the ciphertext): per chunk, SHA-256 of the
// plaintext, AES-256-GCM, SHA-256 of the ciphertext, spread over every core, written nowhere.
func BenchmarkFloorSealHashCPU500(b *testing.B) { benchFloor(b, false, true, true) }

// floorSetup sizes a floor benchmark like Export500 and starts its timer: payload bytes,
// chunks, one plaintext chunk, workers (one per core) and the output file's path.
func floorSetup(b *testing.B) (total int64, chunks int, pt []byte, workers int, files *outFiles) {
	total = benchPayloadSize(b, newFixture(b))
	runtime.GC() // the fixture records are garbage now; do not time their collection
	chunks = int((total + chunkSize - 1) / chunkSize)
	pt = make([]byte, chunkSize)
	workers = runtime.GOMAXPROCS(0)
	files = &outFiles{dir: b.TempDir()}
	b.SetBytes(total)
	b.ResetTimer()
	return
}

func benchFloor(b *testing.B, toFile, hashPlain, hashCipher bool) {
	total, chunks, pt, workers, files := floorSetup(b)
	cpu0 := cpuSeconds()
	// Sealed chunks go back to free once written, so the floor allocates nothing per
	// chunk (the real exporter cannot: crypto/hpke's Seal has no destination).
	free := make(chan []byte, 16*workers)
	for range cap(free) {
		free <- make([]byte, 0, chunkSize+tagSize)
	}
	for i := 0; i < b.N; i++ {
		// Worker k seals chunks k, k+workers, …; the writer takes them back in order.
		outs := make([]chan []byte, workers)
		for k := range outs {
			outs[k] = make(chan []byte, 8)
			go func(k int) {
				block, _ := aes.NewCipher(make([]byte, 32))
				gcm, _ := cipher.NewGCM(block)
				nonce := make([]byte, 12)
				for c := k; c < chunks; c += workers {
					p := pt[:min(chunkSize, total-int64(c)*chunkSize)]
					if hashPlain {
						sha256.Sum256(p)
					}
					binary.BigEndian.PutUint64(nonce[4:], uint64(c))
					ct := gcm.Seal((<-free)[:0], nonce, p, nil)
					if hashCipher {
						sha256.Sum256(ct)
					}
					outs[k] <- ct
				}
				close(outs[k])
			}(k)
		}
		var w io.Writer = io.Discard
		var out *os.File
		var bw *bufio.Writer
		if toFile {
			var err error
			if out, err = os.Create(files.next(b, i)); err != nil {
				b.Fatal(err)
			}
			bw = bufio.NewWriterSize(out, 256<<10)
			w = bw
		}
		for c := 0; c < chunks; c++ {
			ct := <-outs[c%workers]
			if _, err := w.Write(ct); err != nil {
				b.Fatal(err)
			}
			free <- ct
		}
		if toFile {
			if err := bw.Flush(); err != nil {
				b.Fatal(err)
			}
			out.Close()
		}
	}
	b.ReportMetric((cpuSeconds()-cpu0-files.paused)/float64(b.N), "cpu-s/op")
}

// BenchmarkAESGCM500 seals the same number of bytes as Export500's bundle with raw
// AES-256-GCM in 64 KiB chunks: the ceiling export throughput is compared with.
func BenchmarkAESGCM500(b *testing.B) {
	total := benchPayloadSize(b, newFixture(b))
	block, _ := aes.NewCipher(make([]byte, 32))
	gcm, _ := cipher.NewGCM(block)
	pt := make([]byte, chunkSize)
	dst := make([]byte, 0, chunkSize+tagSize)
	nonce := make([]byte, 12)
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var seq uint64
		for done := int64(0); done < total; done += chunkSize {
			binary.BigEndian.PutUint64(nonce[4:], seq)
			seq++
			dst = gcm.Seal(dst[:0], nonce, pt[:min(chunkSize, total-done)], nil)
		}
	}
}

// BenchmarkSHA256500 hashes the same bytes once with SHA-256 on one core: the format hashes
// every byte at least twice (member hashes, bundle hash), which bounds export throughput.
func BenchmarkSHA256500(b *testing.B) {
	total := benchPayloadSize(b, newFixture(b))
	buf := make([]byte, chunkSize)
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := sha256.New()
		for done := int64(0); done < total; done += chunkSize {
			h.Write(buf[:min(chunkSize, total-done)])
		}
		h.Sum(nil)
	}
}
