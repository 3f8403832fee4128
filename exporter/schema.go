package exporter

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"enrollstation/exporter/internal/jsonprofile"
)

//go:embed identity.schema.json
var identitySchema []byte

// IdentitySchema returns the JSON Schema (draft 2020-12) of identity.json and of details files.
func IdentitySchema() []byte { return bytes.Clone(identitySchema) }

const identitySchemaURL = "https://enrollstation.invalid/schema/identity-v1.json"

// compiledSchema is compiled once: the schema is a constant of the program, not state.
var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(identitySchema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(identitySchemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(identitySchemaURL)
})

// validateIdentityJSON checks identity JSON against the schema; id names the record in errors.
func validateIdentityJSON(id string, b []byte) error {
	sch, err := compiledSchema()
	if err != nil {
		return fmt.Errorf("exporter: compiling identity schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return &SchemaError{EnrollmentID: id, Detail: "not JSON"}
	}
	if err := sch.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return &SchemaError{EnrollmentID: id, Detail: flattenValidation(ve)}
		}
		return &SchemaError{EnrollmentID: id, Detail: "does not validate"}
	}
	return nil
}

// flattenValidation turns the validator's error tree into one line naming each failing field.
func flattenValidation(ve *jsonschema.ValidationError) string {
	var parts []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			loc := "/"
			if len(e.InstanceLocation) > 0 {
				loc = ""
				for _, p := range e.InstanceLocation {
					loc += "/" + p
				}
			}
			// The keyword only: the validator's messages quote the value, which is a
			// citizen's data and must not reach logs or the issuer's terminal.
			kw := "invalid"
			if k := e.ErrorKind.KeywordPath(); len(k) > 0 {
				kw = strings.Join(k, "/")
			}
			parts = append(parts, fmt.Sprintf("%s: %s", strconv.QuoteToASCII(loc), kw))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	return b.String()
}

// ParseIdentity reads identity JSON (e.g. a details file), validating it against
// IdentitySchema. Errors wrap ErrSchema.
func ParseIdentity(b []byte) (Identity, error) {
	var id Identity
	if err := validateIdentityJSON("", b); err != nil {
		return id, err
	}
	if err := jsonprofile.Decode(b, &id); err != nil {
		return id, &SchemaError{Detail: err.Error()}
	}
	return id, nil
}

// ValidateIdentity checks an identity against IdentitySchema. Errors wrap ErrSchema.
func ValidateIdentity(id Identity) error {
	b, err := json.Marshal(id)
	if err != nil {
		return fmt.Errorf("exporter: encoding identity: %w", err)
	}
	return validateIdentityJSON("", b)
}
