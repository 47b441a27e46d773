package pgsnap

import "io"

// Progress receives the progress of long operations in bytes: a snapshot's stored bytes, and
// the bytes of a stored snapshot read by verify, restore and drills. Calls for one operation come
// from one goroutine, Begin first and End last.
type Progress interface {
	Begin(what string, total int64) // total is -1 when unknown
	Add(n int64)
	End()
}

// WithProgress reports the progress of snapshots, verification and restores to p (the CLI
// draws a progress bar on a terminal).
func WithProgress(p Progress) Option {
	return func(s *Scheduler) {
		if p != nil {
			s.progress = p
		}
	}
}

type noProgress struct{}

func (noProgress) Begin(string, int64) {}
func (noProgress) Add(int64)           {}
func (noProgress) End()                {}

// progressWriter counts bytes written through it into a Progress.
type progressWriter struct {
	w io.Writer
	p Progress
}

func (pw progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.Add(int64(n))
	return n, err
}

// progressReader counts bytes read through it into a Progress.
type progressReader struct {
	r io.Reader
	p Progress
}

func (pr progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.Add(int64(n))
	return n, err
}
