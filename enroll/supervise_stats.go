package enroll

import (
	"sort"
	"time"

	"enrollstation/vault"
)

// Stats are the dashboard's figures over the station's enrollments.
type Stats struct {
	Days          []time.Time    // the last N days (local midnight), oldest first
	PerDay        []int          // enrollments created on each of Days
	PerClerk      map[string]int // enrollments per clerk, all time
	RejectReasons map[string]int // rejections per reason code
	Scores        []int          // quality scores (0..100) of enrollments with a report
	Total         int
}

// Clerks returns the clerks of PerClerk, busiest first.
func (s *Stats) Clerks() []string {
	out := make([]string, 0, len(s.PerClerk))
	for c := range s.PerClerk {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if s.PerClerk[out[i]] != s.PerClerk[out[j]] {
			return s.PerClerk[out[i]] > s.PerClerk[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

// Dashboard computes the statistics over every enrollment's metadata (no biometrics
// are read), with per-day counts for the days days ending today.
func Dashboard(st *vault.Station, today time.Time, days int) (*Stats, error) {
	s := &Stats{PerClerk: map[string]int{}, RejectReasons: map[string]int{}}
	y, m, d := today.Date()
	first := time.Date(y, m, d, 0, 0, 0, 0, today.Location()).AddDate(0, 0, -(days - 1))
	for i := 0; i < days; i++ {
		s.Days = append(s.Days, first.AddDate(0, 0, i))
	}
	s.PerDay = make([]int, days)
	err := st.Store().View(func(tx *vault.Tx) error {
		for _, status := range vault.Statuses {
			for _, id := range tx.EnrollmentsByStatus(status) {
				e, err := tx.EnrollmentMeta(id)
				if err != nil {
					return err
				}
				s.Total++
				s.PerClerk[e.CapturedBy]++
				if e.Status == vault.StatusRejected && e.RejectReason != "" {
					s.RejectReasons[e.RejectReason]++
				}
				if q, err := ParseQuality(e.Quality); err == nil && q.Score >= 0 {
					s.Scores = append(s.Scores, q.Score)
				}
				day := int(e.CreatedAt.In(today.Location()).Sub(first).Hours() / 24)
				if e.CreatedAt.In(today.Location()).Before(first) {
					day = -1
				}
				if day >= 0 && day < days {
					s.PerDay[day]++
				}
			}
		}
		return nil
	})
	return s, err
}
