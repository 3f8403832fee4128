package enroll

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var day = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func validDetails() Details {
	return Details{
		FamilyName: "陈", GivenNames: "美玲", DateOfBirth: "1988-04-17", Sex: "F",
		Nationality: "CHN", PlaceOfBirth: "广州", AddressLines: []string{"德辅道中 88 号", "12 楼 B 室"},
		Locality: "中環, 香港", PostalCode: "999077", Country: "HKG", PreviousID: "R123456(7)", Phone: "+852 9123 4567",
	}
}

func TestDetailsValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Details)
		field string // "" = valid
		msg   string
	}{
		{"chinese", func(d *Details) {}, "", ""},
		{"latin with accents and hyphen", func(d *Details) { d.FamilyName, d.GivenNames = "O'Neil-Núñez", "José María" }, "", ""},
		{"middle dot", func(d *Details) { d.GivenNames = "阿依古丽·买买提" }, "", ""},
		{"no phone, no previous id, one line", func(d *Details) { d.Phone, d.PreviousID, d.AddressLines = "", "", []string{"1 Main St", " "} }, "", ""},
		{"lower-case codes", func(d *Details) { d.Nationality, d.Country, d.Sex = "chn", " hkg", "f" }, "", ""},
		{"germany", func(d *Details) { d.Nationality = "D<<" }, "", ""},
		{"digits in name", func(d *Details) { d.FamilyName = "Chen2" }, FieldFamilyName, MsgNameChars},
		{"empty given", func(d *Details) { d.GivenNames = "  " }, FieldGivenNames, MsgRequired},
		{"long name", func(d *Details) { d.FamilyName = strings.Repeat("陈", 101) }, FieldFamilyName, MsgTooLong},
		{"bad date", func(d *Details) { d.DateOfBirth = "17/04/1988" }, FieldDateOfBirth, MsgDate},
		{"impossible date", func(d *Details) { d.DateOfBirth = "1988-02-30" }, FieldDateOfBirth, MsgNoSuchDate},
		{"impossible month", func(d *Details) { d.DateOfBirth = "1990-13-01" }, FieldDateOfBirth, MsgNoSuchDate},
		{"future date", func(d *Details) { d.DateOfBirth = "2026-11-26" }, FieldDateOfBirth, MsgDateFuture},
		{"too old", func(d *Details) { d.DateOfBirth = "1890-01-01" }, FieldDateOfBirth, MsgDateTooOld},
		{"sex", func(d *Details) { d.Sex = "Q" }, FieldSex, MsgSex},
		{"no sex", func(d *Details) { d.Sex = "" }, FieldSex, MsgRequired},
		{"nationality", func(d *Details) { d.Nationality = "CN" }, FieldNationality, MsgCountry},
		{"no address", func(d *Details) { d.AddressLines = nil }, FieldAddressLines, MsgAddressLines},
		{"control char", func(d *Details) { d.PlaceOfBirth = "a\x07b" }, FieldPlaceOfBirth, MsgControl},
		{"postal", func(d *Details) { d.PostalCode = "999_077" }, FieldPostalCode, MsgPostalCode},
		{"previous id", func(d *Details) { d.PreviousID = "R12 3456" }, FieldPreviousID, MsgPreviousID},
		{"phone", func(d *Details) { d.Phone = "91234567" }, FieldPhone, MsgPhone},
		{"no locality", func(d *Details) { d.Locality = "" }, FieldLocality, MsgRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDetails()
			tt.edit(&d)
			err := d.Normalize().Validate(day)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("valid details refused: %v", err)
				}
				return
			}
			var de *DetailsError
			if !errors.As(err, &de) || !errors.Is(err, ErrInvalidDetails) {
				t.Fatalf("got %v, want a DetailsError", err)
			}
			if de.Fields[tt.field] != tt.msg || len(de.Fields) != 1 {
				t.Errorf("fields %v, want %s: %q", de.Fields, tt.field, tt.msg)
			}
		})
	}
}

// The details map to the issuer's identity and back, and to the stored demographics.
func TestDetailsMapping(t *testing.T) {
	d := validDetails().Normalize()
	if d.Phone != "+85291234567" {
		t.Errorf("phone normalised to %q", d.Phone)
	}
	id := d.Identity()
	if back := DetailsFromIdentity(id); back.Identity().Address.Lines[1] != "12 楼 B 室" || back.FamilyName != "陈" {
		t.Errorf("round trip: %+v", back)
	}
	dem := d.Demographics("261125-123456-7")
	if got := IdentityOf(dem); got.FamilyName != id.FamilyName || got.Address.Locality != id.Address.Locality ||
		got.PreviousIDNumber != id.PreviousIDNumber || got.Phone != id.Phone || got.Address.Country != "HKG" {
		t.Errorf("IdentityOf(Demographics) = %+v, want %+v", got, id)
	}
	if dem.ApplicationNumber != "261125-123456-7" || dem.Surname != "陈" || !strings.Contains(dem.Address, "中環") {
		t.Errorf("demographics %+v", dem)
	}
}

func TestApplicationNumber(t *testing.T) {
	// ISO 7064 MOD 11-2 vector: the check character of the Chinese resident identity
	// number 11010519491231002X.
	if c := mod11_2("11010519491231002"); c != 'X' {
		t.Errorf("mod11_2 = %c, want X", c)
	}
	no, err := NewApplicationNumber(day)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(no, "261125-") || len(no) != 15 {
		t.Errorf("number %q", no)
	}
	if got, err := ParseApplicationNumber(strings.ToLower(strings.ReplaceAll(no, "-", " "))); err != nil || got != no {
		t.Errorf("parse %q: %q %v", no, got, err)
	}
	digits := strings.ReplaceAll(no, "-", "")
	// Every single-digit error and every adjacent transposition is caught.
	for i := 0; i < 12; i++ {
		for d := byte('0'); d <= '9'; d++ {
			if d == digits[i] {
				continue
			}
			b := []byte(digits)
			b[i] = d
			if _, err := ParseApplicationNumber(string(b)); !errors.Is(err, ErrBadApplicationNumber) {
				t.Fatalf("%s (digit %d changed) accepted", b, i)
			}
		}
		if i < 11 && digits[i] != digits[i+1] {
			b := []byte(digits)
			b[i], b[i+1] = b[i+1], b[i]
			if _, err := ParseApplicationNumber(string(b)); !errors.Is(err, ErrBadApplicationNumber) {
				t.Fatalf("%s (transposition at %d) accepted", b, i)
			}
		}
	}
	for _, bad := range []string{"", "261125", "26112512345X7", "261125-123456-77"} {
		if _, err := ParseApplicationNumber(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseApplicationNumber(f *testing.F) {
	f.Add("261125-123456-7")
	f.Add("11010519491231002X")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseApplicationNumber(s)
		if err != nil {
			return
		}
		if again, err := ParseApplicationNumber(got); err != nil || again != got {
			t.Errorf("%q → %q does not parse back (%v)", s, got, err)
		}
	})
}

func FuzzDetailsValidate(f *testing.F) {
	f.Add("陈", "美玲", "1988-04-17", "+85291234567")
	f.Fuzz(func(t *testing.T, family, given, dob, phone string) {
		d := validDetails()
		d.FamilyName, d.GivenNames, d.DateOfBirth, d.Phone = family, given, dob, phone
		d = d.Normalize()
		if err := d.Validate(day); err == nil {
			// Whatever passes the form must satisfy the issuer's schema.
			if !nameChars(d.FamilyName) || d.FamilyName == "" {
				t.Errorf("accepted family name %q", d.FamilyName)
			}
		}
	})
}

// TestDetailsDeceptiveText: citizen text with direction overrides, invisible or
// look-blank characters is refused, field by field, and no message repeats the value.
func TestDetailsDeceptiveText(t *testing.T) {
	tricks := map[string]string{
		"RTL override":       "Chen\u202enehC",
		"LTR embedding":      "\u202aChen",
		"RTL isolate":        "\u2067Chen\u2069",
		"RTL mark":           "Chen\u200f",
		"Arabic letter mark": "Chen\u061c",
		"zero-width space":   "Ch\u200ben",
		"zero-width joiner":  "Ch\u200den",
		"word joiner":        "Ch\u2060en",
		"BOM":                "\ufeffChen",
		"soft hyphen":        "Ch\u00aden",
		"Hangul filler":      "Chen\u3164",
		"braille blank":      "Chen\u2800Mei",
		"no-break space":     "Chen\u00a0Mei",
		"variation selector": "Chen\ufe0f",
		"tag characters":     "Chen\U000e0041",
		"escape code":        "Chen\x1b[8m",
	}
	fields := map[string]func(*Details, string){
		FieldFamilyName:   func(d *Details, v string) { d.FamilyName = v },
		FieldGivenNames:   func(d *Details, v string) { d.GivenNames = v },
		FieldPlaceOfBirth: func(d *Details, v string) { d.PlaceOfBirth = v },
		FieldAddressLines: func(d *Details, v string) { d.AddressLines = []string{v} },
		FieldLocality:     func(d *Details, v string) { d.Locality = v },
	}
	for what, v := range tricks {
		for field, set := range fields {
			d := validDetails()
			set(&d, v)
			if what == "no-break space" && (field == FieldFamilyName || field == FieldGivenNames) {
				// Names are normalized: a no-break space becomes a space.
				if n := d.Normalize(); strings.Contains(n.FamilyName+n.GivenNames, "\u00a0") || n.Validate(day) != nil {
					t.Errorf("no-break space in %s not normalized: %+v", field, n)
				}
				continue
			}
			err := d.Normalize().Validate(day)
			var de *DetailsError
			if !errors.As(err, &de) || de.Fields[field] == "" {
				t.Errorf("%s in %s: %v, want the field refused", what, field, err)
				continue
			}
			if msg := de.Fields[field]; msg != MsgInvisible && msg != MsgControl && msg != MsgNameChars {
				t.Errorf("%s in %s: message %q", what, field, msg)
			}
			if strings.Contains(err.Error(), "Chen") || strings.Contains(err.Error(), v) {
				t.Errorf("%s in %s: the error repeats the value: %v", what, field, err)
			}
		}
	}
	// Ideographic spaces and ordinary accents stay allowed.
	d := validDetails()
	d.Locality, d.FamilyName = "中環\u3000香港", "Müller"
	if err := d.Normalize().Validate(day); err != nil {
		t.Fatal(err)
	}
}

// TestParseDetailsNoEcho: a details file the schema refuses is reported by field name,
// without the citizen's value.
func TestParseDetailsNoEcho(t *testing.T) {
	raw := `{"family_name":"SECRET\u202eNAME","given_names":"Mei","date_of_birth":"1988-04-17","sex":"F","nationality":"CHN",
	"place_of_birth":"Guangzhou","address":{"lines":["1 Main St"],"locality":"Hong Kong","country":"HKG"},"phone":"+85291234567-SECRET"}`
	_, err := ParseDetails([]byte(raw), day)
	if !errors.Is(err, ErrInvalidDetails) {
		t.Fatalf("ParseDetails: %v", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("the error repeats the citizen's value: %v", err)
	}
	if !strings.Contains(err.Error(), "phone") {
		t.Fatalf("the error does not name the field: %v", err)
	}
}
