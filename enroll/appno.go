package enroll

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// ErrBadApplicationNumber is returned for a malformed application number or a wrong
// check character.
var ErrBadApplicationNumber = errors.New("workflow: not a valid application number (mistyped?)")

// Application numbers are 12 digits and one check character, shown as
// YYMMDD-NNNNNN-C: the enrollment date, six random digits, and an ISO/IEC 7064 MOD 11-2
// check character (0-9 or X, as on Chinese resident identity cards). MOD 11-2 detects
// every single-digit error and every transposition of adjacent digits, the usual
// mistakes when a number is read out over a counter.

// NewApplicationNumber makes a fresh application number for an enrollment on day.
func NewApplicationNumber(day time.Time) (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("workflow: application number: %w", err)
	}
	digits := day.UTC().Format("060102") + fmt.Sprintf("%06d", n.Int64())
	return formatAppNo(digits + string(mod11_2(digits))), nil
}

// mod11_2 is the ISO/IEC 7064 MOD 11-2 check character of a digit string.
func mod11_2(digits string) byte {
	p := 0
	for i := 0; i < len(digits); i++ {
		p = ((p + int(digits[i]-'0')) * 2) % 11
	}
	c := (12 - p) % 11
	if c == 10 {
		return 'X'
	}
	return byte('0' + c)
}

func formatAppNo(s string) string { return s[:6] + "-" + s[6:12] + "-" + s[12:] }

// ParseApplicationNumber checks an application number as typed (dashes and spaces
// optional, x or X) and returns it in its printed form.
func ParseApplicationNumber(s string) (string, error) {
	s = strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(s))
	if len(s) != 13 {
		return "", ErrBadApplicationNumber
	}
	for i := 0; i < 12; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", ErrBadApplicationNumber
		}
	}
	if mod11_2(s[:12]) != s[12] {
		return "", ErrBadApplicationNumber
	}
	return formatAppNo(s), nil
}
