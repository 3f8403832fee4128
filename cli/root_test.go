package cli

import (
	"enrollstation/enroll"
	"enrollstation/internal/testkit"
)

// testRoot is what main composes, over the test kit's opener of the real TPM, store and
// models. It is also the default, so Main(..., nil) in a test opens real resources.
var testRoot = &Root{Opener: func(c enroll.Config) enroll.Opener {
	return testkit.Opener{Data: c.Data, TPM: c.TPM, Models: c.Models}
}}

func init() { defaultRoot = testRoot }

// testEnv is the Env Main would make for cfg (no streams).
func testEnv(cfg enroll.Config) *Env {
	env := &Env{Config: cfg}
	compose(env, testRoot)
	return env
}
