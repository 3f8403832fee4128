package app

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"enrollstation/enroll"
	"enrollstation/exporter"
	"enrollstation/vault"
)

// auditDetail is an audit entry's detail in the screen language. The log keeps the
// detail as the workflow wrote it (English, hashed into the chain and anchored in the
// TPM, so never rewritten); each action writes its detail in one fixed form (vault and
// enroll), which is read back here into its fields and worded through tr. A detail in
// no known form (an older station's, or free text) is shown as stored.
func auditDetail(e vault.AuditEntry) string {
	if e.Detail == "" {
		return ""
	}
	if t, ok := renderAuditDetail(e.Action, e.Detail); ok {
		return t
	}
	return e.Detail
}

// renderAuditDetail words detail, written by action, in the screen language; ok is
// false when the detail is in none of the action's forms.
func renderAuditDetail(action, detail string) (string, bool) {
	if fixed, ok := auditFixedDetails[action]; ok {
		if f, ok := fixed[detail]; ok {
			return f(), true
		}
	}
	for _, f := range auditDetailForms[action] {
		if m := f.re.FindStringSubmatch(detail); m != nil {
			if t, ok := f.render(m); ok {
				return t, true
			}
		}
	}
	return "", false
}

// auditFixedDetails are the details some actions always write word for word.
var auditFixedDetails = map[string]map[string]func() string{
	"user.reset-password": {
		"one-time password issued":                       func() string { return tr("One-time password issued") },
		"one-time password issued; approval key retired": func() string { return tr("One-time password issued; approval key retired") },
	},
	"user.login-refused":    {"locked by an administrator": func() string { return tr("Locked by an administrator") }},
	"user.approval-key":     {"new approval key": func() string { return tr("New approval key") }},
	"station.recovery-code": {"new recovery code issued (stored as an argon2id hash)": func() string { return tr("New recovery code issued (only its hash is stored)") }},
	"station.recover":       {"recovery code used: account unlocked, new password set": func() string { return tr("Recovery code used: account unlocked, new password set") }},
	"station.recover-refused": {
		"recovery code already used": func() string { return tr("The recovery code was used already") },
		"wrong recovery code":        func() string { return tr("Wrong recovery code") },
	},
	"enrollment.purge": {"biometrics deleted": func() string { return tr("Biometrics deleted") }},
	"station.activate": {"credential activated": func() string { return tr("Attestation credential activated") }},
}

// detailForm is one form of an action's detail: re captures its fields, render words them
// (ok false when a field is not one it knows, e.g. an unknown status).
type detailForm struct {
	re     *regexp.Regexp
	render func(m []string) (string, bool)
}

func form(re string, render func(m []string) (string, bool)) detailForm {
	return detailForm{regexp.MustCompile(re), render}
}

// always wraps a render that knows every value its pattern can capture.
func always(f func(m []string) string) func([]string) (string, bool) {
	return func(m []string) (string, bool) { return f(m), true }
}

// auditDetailForms are the forms each action writes (see the tx.Audit calls in vault and
// enroll; TestAuditDetailsOnChineseScreens makes one entry of every action through them).
var auditDetailForms = map[string][]detailForm{
	"station.init": {form(`^first administrator (.+)$`, always(func(m []string) string {
		return tr("First administrator: %s", m[1])
	}))},
	"station.settings": {form(`^retention (\d+)d, lockout (\d+), idle (\d+)m, language (\S+)$`, always(func(m []string) string {
		return tr("Biometrics kept %s days after export, lock after %s failed logins, idle lock after %s minutes, language %s", m[1], m[2], m[3], languageName(m[4]))
	}))},
	"station.issuer-key": {form(`^(.+?) -> (.+?)(?:, second person (.+))?$`, always(func(m []string) string {
		t := tr("Issuer key %s replaced by %s", fingerprintText(m[1]), m[2])
		if m[3] != "" {
			t += tr(", second person %s", m[3])
		}
		return t
	}))},
	"station.printer": {form(`^receipt printer (.+)$`, always(func(m []string) string {
		return tr("Receipt printer: %s", printerText(m[1]))
	}))},
	"station.quality": {form(`^(?:\w+=\S+)(?: \w+=\S+)*$`, qualityDetail)},
	"station.attest": {form(`^(\d+) keys certified$`, always(func(m []string) string {
		return tr("%s keys certified by the TPM", m[1])
	}))},
	"camera.profile": {form(`^(.*) (\S+)$`, always(func(m []string) string {
		return tr("Profile %s for camera %s", m[1], m[2])
	}))},
	"user.add":   {form(`^roles \[(.*)\]$`, rolesDetail)},
	"user.roles": {form(`^roles \[(.*)\]$`, rolesDetail)},
	"user.login-failed": {form(`^failure (\d+)$`, always(func(m []string) string {
		return tr("Failed attempt %s", m[1])
	}))},
	"user.lock": {form(`^(\S+) after (\d+) failed logins$`, func(m []string) (string, bool) {
		d, err := time.ParseDuration(m[1])
		if err != nil {
			return "", false
		}
		return tr("Locked for %s after %s failed logins", durationText(d), m[2]), true
	})},
	"operator.language": {form(`^language (\S+)$`, always(func(m []string) string {
		return tr("Language: %s", languageName(m[1]))
	}))},
	"enrollment.save": {form(`^([a-z]+)$`, func(m []string) (string, bool) {
		s := vault.Status(m[1])
		if !slices.Contains(vault.Statuses, s) {
			return "", false
		}
		return tr("Saved as: %s", statusText(s)), true
	})},
	"enrollment.reject": {form(`^(\S+)$`, func(m []string) (string, bool) {
		if !slices.Contains(enroll.RejectReasons, m[1]) {
			return "", false
		}
		return tr("Reason: %s", rejectReasonLabel(m[1])), true
	})},
	"enrollment.issuer-refused": {form(`^(.*)$`, always(func(m []string) string {
		return tr("Issuer's reason: %s", issuerRefusalText(m[1]))
	}))},
	"receipt.print": {form(`^application (\S+), printer (.+), job (.*)$`, always(func(m []string) string {
		return tr("Application %s, printer %s, print job %s", m[1], printerText(m[2]), m[3])
	}))},
	"batch.close": {form(`^(\d+) enrollments$`, always(func(m []string) string {
		return tr("%s enrollments", m[1])
	}))},
	"batch.export": {form(`^(\d+) enrollments, bundle (\d+)$`, always(func(m []string) string {
		return tr("%s enrollments, bundle %s", m[1], m[2])
	}))},
	"batch.export-failed": {form(`^(building the bundle|delivering bundle (\d+)|recording bundle (\d+) as exported) to (.+?): (.*)$`, always(func(m []string) string {
		var step string
		switch {
		case m[2] != "":
			step = tr("Delivering bundle %s", m[2])
		case m[3] != "":
			step = tr("Recording bundle %s as exported", m[3])
		default:
			step = tr("Building the bundle")
		}
		return tr("%s to %s failed: %s", step, m[4], failureCause(m[4], m[5]))
	}))},
	"batch.issuer-ack": {form(`^(\d+) accepted and purged, (\d+) refused, (\d+) unknown$`, always(func(m []string) string {
		return tr("%s accepted (biometrics deleted), %s refused, %s unknown to this station", m[1], m[2], m[3])
	}))},
	"batch.issuer-nack": {form(`^issuer refused bundle (\S+): ([a-z0-9-]+)(?:: (.*))?$`, always(func(m []string) string {
		t := tr("The issuer refused bundle %s: %s", m[1], bundleRefusalText(m[2]))
		if m[3] != "" {
			t += " — " + m[3] // the issuer's own words
		}
		return t
	}))},
	"batch.quarantine": {form(`^enrollment (\S+): (.*)$`, always(func(m []string) string {
		reason := m[2]
		if reason == "damaged record" { // Quarantine's default
			reason = tr("damaged record")
		}
		return tr("Enrollment %s taken out of the batch: %s", m[1], reason)
	}))},
}

// listSep joins the items of a list in the screen language.
func listSep() string { return tr(", ") }

// rolesDetail words "roles [clerk supervisor]".
func rolesDetail(m []string) (string, bool) {
	var labels []string
	for _, r := range strings.Fields(m[1]) {
		if !slices.Contains(vault.AllRoles, vault.Role(r)) {
			return "", false
		}
		labels = append(labels, roleLabel(vault.Role(r)))
	}
	if len(labels) == 0 {
		return tr("Roles: none"), true
	}
	return tr("Roles: %s", strings.Join(labels, listSep())), true
}

// qualityDetail words "MinSharpness=40 MaxYaw=default".
func qualityDetail(m []string) (string, bool) {
	names := enroll.QualityNames()
	var parts []string
	for _, kv := range strings.Fields(m[0]) {
		name, value, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			return "", false
		}
		if value == "default" {
			value = tr("default")
		}
		parts = append(parts, tr("%s: %s", thresholdLabel(name), value))
	}
	return tr("Quality thresholds: %s", strings.Join(parts, listSep())), true
}

// fingerprintText is a key fingerprint, or the words vault writes in its place.
func fingerprintText(fp string) string {
	switch fp {
	case "none":
		return tr("(none)")
	case "unreadable key":
		return tr("(unreadable key)")
	}
	return fp
}

// printerText is a CUPS queue name, or the words enroll writes for the default queue.
func printerText(q string) string {
	if q == "(CUPS default)" {
		return tr("the CUPS default printer")
	}
	return q
}

// durationText is a lockout's length (whole minutes or hours, as LockoutSteps are).
func durationText(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return tr("%d h", int(d/time.Hour))
	case d >= time.Minute && d%time.Minute == 0:
		return tr("%d min", int(d/time.Minute))
	}
	return tr("%d s", int(d.Round(time.Second)/time.Second))
}

// issuerRefusalText words a refused record's reason as enroll keeps it: an
// exporter.RecordRefusalReasons code, "code: the issuer's text", or the issuer's text.
func issuerRefusalText(s string) string {
	code, text, _ := strings.Cut(s, ": ")
	if !slices.Contains(exporter.RecordRefusalReasons, code) {
		return s // the issuer's own words ("other")
	}
	label := recordRefusalLabel(code)
	if text != "" {
		label += " — " + text
	}
	return label
}

// recordRefusalLabel is the plain-language label of an exporter.RecordRefusalReasons code.
func recordRefusalLabel(code string) string {
	switch code {
	case "portrait-quality":
		return tr("The portrait is not usable for the card")
	case "identity-mismatch":
		return tr("The details do not match the issuer's registers")
	case "duplicate":
		return tr("The citizen is already enrolled")
	case "document-invalid":
		return tr("The previous document is unknown, lost or stolen")
	case "policy":
		return tr("Refused under the issuer's policy")
	case "other":
		return tr("Other reason")
	}
	return code
}

// bundleRefusalText words why the issuer refused a whole bundle: its policy, another
// reason, or one of the checks a bundle must pass (its code, for the technician).
func bundleRefusalText(code string) string {
	switch code {
	case "policy":
		return tr("refused under the issuer's policy")
	case "other":
		return tr("another reason")
	}
	return tr("it failed the issuer's checks (code %s)", code)
}

// exportFailures are the everyday causes of a failed export, as the exporter words
// them (the stored detail is cut at 200 bytes, so a cause is known by how it starts).
var exportFailures = []struct {
	re   *regexp.Regexp
	text func() string
}{
	{regexp.MustCompile(`^exporter: target directory `), func() string { return tr("the folder is not available (is the USB medium plugged in?)") }},
	{regexp.MustCompile(`^exporter: .* is a symbolic link`), func() string { return tr("the target is a symbolic link, not the medium's folder") }},
	{regexp.MustCompile(`^exporter: .* already holds a different bundle`), func() string { return tr("the medium already holds a different bundle with that ID") }},
	{regexp.MustCompile(`^exporter: .* re-read of .* does not match`), func() string { return tr("the copy on the medium does not read back correctly (faulty medium?)") }},
}

// failureCause words why an export failed, from the error the workflow stored after
// the step (which repeats the step and target first); a cause it does not know is
// shown as the exporter wrote it.
func failureCause(target, msg string) string {
	if i := strings.Index(msg, " to "+target+": "); i >= 0 {
		msg = msg[i+len(target)+6:]
	} else if strings.HasPrefix(msg, "workflow: ") {
		return tr("the error text did not fit in the log") // cut before the cause
	}
	for _, f := range exportFailures {
		if f.re.MatchString(msg) {
			return f.text()
		}
	}
	cause := msg
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		cause = msg[i+2:]
	}
	switch cause {
	case "not a directory":
		return tr("the target is not a folder")
	case "no such file or directory":
		return tr("the folder does not exist")
	case "permission denied":
		return tr("permission denied")
	case "no space left on device":
		return tr("the medium is full")
	case "read-only file system":
		return tr("the medium is read-only")
	case "connection refused":
		return tr("the issuer's server refused the connection")
	case "i/o timeout", "context deadline exceeded":
		return tr("the connection timed out")
	}
	return msg
}
