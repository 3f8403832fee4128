package enroll

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"enrollstation/exporter"
	"enrollstation/vault"
)

// ErrInvalidDetails is wrapped by DetailsError.
var ErrInvalidDetails = errors.New("workflow: invalid details")

// Field names of the details form, as used in DetailsError (they match exporter.Identity's
// JSON names).
const (
	FieldFamilyName   = "family_name"
	FieldGivenNames   = "given_names"
	FieldDateOfBirth  = "date_of_birth"
	FieldSex          = "sex"
	FieldNationality  = "nationality"
	FieldPlaceOfBirth = "place_of_birth"
	FieldAddressLines = "address.lines"
	FieldLocality     = "address.locality"
	FieldPostalCode   = "address.postal_code"
	FieldCountry      = "address.country"
	FieldPreviousID   = "previous_id_number"
	FieldPhone        = "phone"
)

// DetailsError lists what is wrong with each field: field name → message (plain English,
// short enough to show under the field; the UI translates it).
type DetailsError struct {
	Fields map[string]string
}

func (e *DetailsError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "workflow: invalid details: " + strings.Join(parts, "; ")
}

func (e *DetailsError) Is(target error) bool { return target == ErrInvalidDetails }

// Details are the citizen's details: the one citizen-record type of the workflow. The
// clerk's form, a details file and the supervisor's screens all read and write Details;
// the other shapes are storage or wire formats reached only through the mappers below:
//
//	Details            vault.Demographics (stored)   exporter.Identity (identity.json)
//	FamilyName         Surname                       FamilyName   (family_name)
//	GivenNames         GivenNames                    GivenNames
//	DateOfBirth, Sex, Nationality, PlaceOfBirth: same names in all three
//	AddressLines       AddressLines (+ Address, a display join)   Address.Lines
//	Locality, PostalCode, Country  same                Address.Locality/PostalCode/Country
//	PreviousID         DocumentNumber                PreviousIDNumber
//	Phone              Phone                         Phone
//	(application no.)  ApplicationNumber             (the record's name in the bundle)
//
// Mappers: Details.Demographics, DetailsOf (back), Details.Identity, DetailsFromIdentity,
// IdentityOf (stored to wire). The approval statement signs vault.Demographics as stored.
// The capture's failed attempts are CaptureMeta.Attempts on the station and
// Capture.Retries in the bundle (see exportCapture).
type Details struct {
	FamilyName   string
	GivenNames   string
	DateOfBirth  string // YYYY-MM-DD
	Sex          string // F, M or X
	Nationality  string // ICAO 9303 three-letter code
	PlaceOfBirth string
	AddressLines []string
	Locality     string
	PostalCode   string
	Country      string // ICAO 9303 three-letter code
	PreviousID   string
	Phone        string // E.164; spaces and dashes are removed by Normalize
}

// Validation messages (English; the UI translates them).
const (
	MsgRequired     = "Required."
	MsgTooLong      = "Too long (at most 100 characters)."
	MsgNameChars    = "Use letters only (any script), spaces, hyphens, apostrophes or the middle dot ·."
	MsgControl      = "Contains characters that cannot be printed."
	MsgDate         = "Use the form YYYY-MM-DD, e.g. 1988-04-17."
	MsgDateFuture   = "The date of birth is in the future."
	MsgDateTooOld   = "The date of birth is more than 130 years ago."
	MsgSex          = "Choose F, M or X."
	MsgCountry      = "Use the three-letter ICAO code, e.g. CHN, HKG, GBR."
	MsgAddressLines = "Give one to four address lines."
	MsgPostalCode   = "Use letters, digits, spaces or hyphens (at most 12)."
	MsgPreviousID   = "Use letters, digits and ( ) / - only (at most 30)."
	MsgPhone        = "Use the international form, e.g. +85291234567."
)

var (
	countryRe    = regexp.MustCompile(`^[A-Z][A-Z<]{2}$`)
	postalRe     = regexp.MustCompile(`^[A-Za-z0-9 -]{1,12}$`)
	previousIDRe = regexp.MustCompile(`^[A-Za-z0-9()/-]{1,30}$`)
	phoneRe      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// Normalize trims spaces, upper-cases codes and strips phone separators, returning the
// cleaned copy the form shows back and Validate checks.
func (d Details) Normalize() Details {
	t := strings.TrimSpace
	d.FamilyName = collapseSpaces(d.FamilyName)
	d.GivenNames = collapseSpaces(d.GivenNames)
	d.DateOfBirth = t(d.DateOfBirth)
	d.Sex = strings.ToUpper(t(d.Sex))
	d.Nationality = strings.ToUpper(t(d.Nationality))
	d.PlaceOfBirth = t(d.PlaceOfBirth)
	var lines []string
	for _, l := range d.AddressLines {
		if l = t(l); l != "" {
			lines = append(lines, l)
		}
	}
	d.AddressLines = lines
	d.Locality = t(d.Locality)
	d.PostalCode = t(d.PostalCode)
	d.Country = strings.ToUpper(t(d.Country))
	d.PreviousID = t(d.PreviousID)
	d.Phone = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "").Replace(t(d.Phone))
	return d
}

func collapseSpaces(s string) string { return strings.Join(strings.Fields(s), " ") }

// Validate checks normalized details against the form's rules (which imply the issuer's
// identity schema) as of today; the error is a *DetailsError naming every bad field.
func (d Details) Validate(today time.Time) error {
	bad := map[string]string{}
	name := func(field, v string) {
		switch {
		case v == "":
			bad[field] = MsgRequired
		case utf8.RuneCountInString(v) > 100:
			bad[field] = MsgTooLong
		case !nameChars(v):
			bad[field] = MsgNameChars
		}
	}
	text := func(field, v string, required bool) {
		switch {
		case v == "" && required:
			bad[field] = MsgRequired
		case utf8.RuneCountInString(v) > 100:
			bad[field] = MsgTooLong
		case strings.IndexFunc(v, unicode.IsControl) >= 0:
			bad[field] = MsgControl
		}
	}
	code := func(field, v string) {
		switch {
		case v == "":
			bad[field] = MsgRequired
		case !countryRe.MatchString(v):
			bad[field] = MsgCountry
		}
	}
	name(FieldFamilyName, d.FamilyName)
	name(FieldGivenNames, d.GivenNames)
	if msg := checkDOB(d.DateOfBirth, today); msg != "" {
		bad[FieldDateOfBirth] = msg
	}
	switch d.Sex {
	case "F", "M", "X":
	case "":
		bad[FieldSex] = MsgRequired
	default:
		bad[FieldSex] = MsgSex
	}
	code(FieldNationality, d.Nationality)
	text(FieldPlaceOfBirth, d.PlaceOfBirth, true)
	if len(d.AddressLines) == 0 || len(d.AddressLines) > 4 {
		bad[FieldAddressLines] = MsgAddressLines
	}
	for _, l := range d.AddressLines {
		text(FieldAddressLines, l, true)
	}
	text(FieldLocality, d.Locality, true)
	if d.PostalCode != "" && !postalRe.MatchString(d.PostalCode) {
		bad[FieldPostalCode] = MsgPostalCode
	}
	code(FieldCountry, d.Country)
	if d.PreviousID != "" && !previousIDRe.MatchString(d.PreviousID) {
		bad[FieldPreviousID] = MsgPreviousID
	}
	if d.Phone != "" && !phoneRe.MatchString(d.Phone) {
		bad[FieldPhone] = MsgPhone
	}
	if len(bad) > 0 {
		return &DetailsError{Fields: bad}
	}
	// The issuer's schema is the final word; the rules above are meant to imply it.
	if err := exporter.ValidateIdentity(d.Identity()); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidDetails, err)
	}
	return nil
}

// nameChars reports whether s holds only letters (any script, with combining marks),
// spaces, hyphens, apostrophes and the middle dot used in transcribed Chinese names.
func nameChars(s string) bool {
	for _, r := range s {
		switch {
		case unicode.IsLetter(r), unicode.Is(unicode.Mn, r), unicode.Is(unicode.Mc, r):
		case r == ' ', r == '-', r == '\'', r == '’', r == '·', r == '•', r == '.':
		default:
			return false
		}
	}
	return true
}

func checkDOB(s string, today time.Time) string {
	if s == "" {
		return MsgRequired
	}
	dob, err := time.Parse("2006-01-02", s)
	if err != nil || len(s) != 10 {
		return MsgDate
	}
	y, m, d := today.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if dob.After(day) {
		return MsgDateFuture
	}
	if dob.Before(day.AddDate(-130, 0, 0)) {
		return MsgDateTooOld
	}
	return ""
}

// Identity maps the details to the issuer's identity record.
func (d Details) Identity() exporter.Identity {
	return exporter.Identity{
		FamilyName:   d.FamilyName,
		GivenNames:   d.GivenNames,
		DateOfBirth:  d.DateOfBirth,
		Sex:          d.Sex,
		Nationality:  d.Nationality,
		PlaceOfBirth: d.PlaceOfBirth,
		Address: exporter.Address{
			Lines:      append([]string(nil), d.AddressLines...),
			Locality:   d.Locality,
			PostalCode: d.PostalCode,
			Country:    d.Country,
		},
		PreviousIDNumber: d.PreviousID,
		Phone:            d.Phone,
	}
}

// DetailsFromIdentity is the inverse of Details.Identity (for details files).
func DetailsFromIdentity(id exporter.Identity) Details {
	return Details{
		FamilyName: id.FamilyName, GivenNames: id.GivenNames, DateOfBirth: id.DateOfBirth,
		Sex: id.Sex, Nationality: id.Nationality, PlaceOfBirth: id.PlaceOfBirth,
		AddressLines: append([]string(nil), id.Address.Lines...), Locality: id.Address.Locality,
		PostalCode: id.Address.PostalCode, Country: id.Address.Country,
		PreviousID: id.PreviousIDNumber, Phone: id.Phone,
	}
}

// Demographics is how the details are stored in the vault, with the application number.
func (d Details) Demographics(appNo string) vault.Demographics {
	addr := strings.Join(append(append([]string(nil), d.AddressLines...), strings.TrimSpace(d.PostalCode+" "+d.Locality), d.Country), ", ")
	return vault.Demographics{
		GivenNames: d.GivenNames, Surname: d.FamilyName, DateOfBirth: d.DateOfBirth, Sex: d.Sex,
		Nationality: d.Nationality, PlaceOfBirth: d.PlaceOfBirth, Address: addr,
		DocumentNumber: d.PreviousID, ApplicationNumber: appNo, Phone: d.Phone,
		AddressLines: append([]string(nil), d.AddressLines...), Locality: d.Locality,
		PostalCode: d.PostalCode, Country: d.Country,
	}
}

// DetailsOf is the inverse of Details.Demographics (without the application number).
func DetailsOf(d vault.Demographics) Details {
	return Details{
		FamilyName: d.Surname, GivenNames: d.GivenNames, DateOfBirth: d.DateOfBirth, Sex: d.Sex,
		Nationality: d.Nationality, PlaceOfBirth: d.PlaceOfBirth, AddressLines: d.AddressLines,
		Locality: d.Locality, PostalCode: d.PostalCode, Country: d.Country,
		PreviousID: d.DocumentNumber, Phone: d.Phone,
	}
}

// IdentityOf maps stored demographics to the issuer's identity record (for the exporter).
func IdentityOf(d vault.Demographics) exporter.Identity { return DetailsOf(d).Identity() }
