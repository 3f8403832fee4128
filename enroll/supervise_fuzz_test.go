package enroll

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"enrollstation/biometrics"
)

// FuzzParseQuality: stored quality reports never panic the queue, whatever they hold.
func FuzzParseQuality(f *testing.F) {
	f.Add([]byte(`{"pass":true,"score":88,"measures":[{"id":"Sharpness","raw":1.5,"score":90,"pass":true}]}`))
	f.Add([]byte(`{"score":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseQuality(b)
		if err == nil && !json.Valid(b) && len(b) > 0 {
			t.Fatalf("invalid JSON %q accepted", b)
		}
		if err != nil && q.Score != -1 {
			t.Fatalf("error with a score: %+v", q)
		}
	})
}

// FuzzApplyQuality: an administrator's threshold overrides are either refused or
// change only the fields they name.
func FuzzApplyQuality(f *testing.F) {
	f.Add([]byte(`{"MinInterEye": 120}`))
	f.Add([]byte(`{"MinInterEy": 120}`))
	f.Add([]byte(`{"Advisory": ["EyesOpen"]}`))
	f.Add([]byte(`{"MaxYaw": 3, "MinInterEy": 1}`)) // refused after changing a field
	f.Fuzz(func(t *testing.T, b []byte) {
		base := biometrics.DefaultThresholds()
		th, err := applyQuality(base, b)
		if err != nil {
			if !reflect.DeepEqual(th, base) {
				t.Fatalf("refused overrides %q changed the thresholds", b)
			}
			return
		}
		var named map[string]json.RawMessage
		if json.Unmarshal(b, &named) != nil {
			return // e.g. JSON null: nothing named, nothing changed
		}
		for k := range named {
			if strings.EqualFold(k, "MaxYaw") { // encoding/json matches names case-insensitively
				return
			}
		}
		if th.MaxYaw != base.MaxYaw {
			t.Fatalf("MaxYaw changed by %q", b)
		}
	})
}
