package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The input hygiene rules BindJSON applies to every request body, after
// encoding/json has decoded it (API.md "Conventions"; issue 12, point 7).
// encoding/json is lenient where a request must not be: it matches field
// names case-insensitively, keeps the last of duplicate keys, replaces
// invalid UTF-8 with U+FFFD and takes any characters in a string. So a
// second pass over the document's tokens, beside the Go type it decodes
// into, refuses:
//
//   - invalid UTF-8 and lone UTF-16 surrogate escapes, anywhere;
//   - a key that appears twice in one object, anywhere (also inside
//     free-form values such as metadata, jwks or a published event's
//     data: which of the two counts is ambiguous);
//   - in an object the server interprets (a struct), a key that is not
//     spelled exactly as the field (so "Name" or "NAME" beside or instead
//     of "name" is refused, not silently merged);
//   - control and format characters (Unicode Cc, Cf, Zl, Zp: NUL, CR, LF,
//     TAB, C1 controls, bidi overrides and isolates, zero-width characters,
//     the BOM) in every string the server interprets and in every object
//     key. A field tagged `text:"multiline"` (descriptions, reasons) admits
//     LF and TAB; one tagged `text:"pem"` (PEM documents pasted from
//     files with Windows line endings) also CR, only right before an LF:
//     its handler normalises CRLF to LF. Free-form string values (inside metadata or data) are
//     only checked for valid UTF-8;
//   - more items in an array the server interprets than the field's
//     `maxItems:"N"` tag, or defaultMaxItems when it has none;
//   - nesting deeper than maxJSONDepth.
//
// Each refusal is 400 validation_error naming the JSON path of the field.
const (
	defaultMaxItems = 100
	maxJSONDepth    = 32
)

// checkHygiene applies the rules above to body, a JSON document that
// encoding/json decoded into a value of type t without error.
func checkHygiene(body []byte, t reflect.Type) error {
	w := hygieneWalker{body: body, dec: json.NewDecoder(bytes.NewReader(body))}
	w.dec.UseNumber()
	return w.walk(shapeOf(t))
}

// hygieneWalker walks the tokens of one document.
type hygieneWalker struct {
	body  []byte
	dec   *json.Decoder
	stack []*hygieneFrame
}

// hygieneFrame is an object or array being walked.
type hygieneFrame struct {
	object bool
	shape  *jsonShape // nil: free-form
	field  fieldRule  // the rule of the field this container is the value of
	path   string
	keys   map[string]bool
	key    string // object: the key whose value comes next
	keyed  bool   // object: a key was read, its value comes next
	n      int    // array: items so far
}

func (w *hygieneWalker) walk(root *jsonShape) error {
	for {
		before := w.dec.InputOffset()
		tok, err := w.dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return nil // encoding/json accepted the body; nothing more to say
		}
		raw := w.body[before:w.dec.InputOffset()]
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			w.stack = w.stack[:len(w.stack)-1]
			continue
		}
		if f := w.top(); f != nil && f.object && !f.keyed {
			if err := w.key(f, tok.(string), raw); err != nil {
				return err
			}
			continue
		}
		sh, rule, path, err := w.next(root)
		if err != nil {
			return err
		}
		if err := w.value(tok, raw, sh, rule, path); err != nil {
			return err
		}
	}
}

func (w *hygieneWalker) top() *hygieneFrame {
	if len(w.stack) == 0 {
		return nil
	}
	return w.stack[len(w.stack)-1]
}

// key checks an object key and records it in f.
func (w *hygieneWalker) key(f *hygieneFrame, k string, raw []byte) error {
	if msg := badString(k, raw, fieldRule{}, true); msg != "" {
		return Validation(FieldError{Field: orRoot(f.path), Message: fmt.Sprintf("has a key %q that %s", k, msg)})
	}
	path := joinPath(f.path, k)
	if f.keys[k] {
		return Validation(FieldError{Field: path, Message: "appears twice: send each key once"})
	}
	if f.shape != nil && f.shape.kind == shapeStruct {
		if _, ok := f.shape.fields[k]; !ok {
			if exact, ok := f.shape.folded[strings.ToLower(k)]; ok {
				return Validation(FieldError{Field: path, Message: fmt.Sprintf("is not a known field: field names are case-sensitive (%q)", exact)})
			}
		}
	}
	f.keys[k] = true
	f.key, f.keyed = k, true
	return nil
}

// next returns the shape, rule and path of the value that comes next, and
// counts it in its array.
func (w *hygieneWalker) next(root *jsonShape) (*jsonShape, fieldRule, string, error) {
	f := w.top()
	switch {
	case f == nil:
		return root, fieldRule{}, "", nil
	case f.object:
		f.keyed = false
		if f.shape == nil || f.shape.kind == shapeFree {
			return nil, fieldRule{}, joinPath(f.path, f.key), nil
		}
		if f.shape.kind == shapeMap {
			return f.shape.elem, f.field, joinPath(f.path, f.key), nil
		}
		fs := f.shape.fields[f.key] // present: encoding/json refused unknown fields
		return fs.shape, fs.rule, joinPath(f.path, f.key), nil
	}
	path := f.path + "[" + strconv.Itoa(f.n) + "]"
	f.n++
	if f.shape == nil || f.shape.kind == shapeFree {
		return nil, fieldRule{}, path, nil
	}
	if limit := f.field.maxItemsOr(defaultMaxItems); f.n > limit {
		return nil, fieldRule{}, path, Validation(FieldError{Field: f.path, Message: fmt.Sprintf("must have at most %d items", limit)})
	}
	return f.shape.elem, f.field, path, nil
}

// value checks a value, or opens the container it starts.
func (w *hygieneWalker) value(tok json.Token, raw []byte, sh *jsonShape, rule fieldRule, path string) error {
	switch v := tok.(type) {
	case json.Delim:
		if len(w.stack) >= maxJSONDepth {
			return Validation(FieldError{Field: orRoot(path), Message: fmt.Sprintf("nests deeper than %d levels", maxJSONDepth)})
		}
		f := &hygieneFrame{object: v == '{', path: path, field: rule}
		if f.object {
			f.keys = map[string]bool{}
		}
		if sh != nil && (f.object && (sh.kind == shapeStruct || sh.kind == shapeMap) || !f.object && sh.kind == shapeSlice) {
			f.shape = sh
		}
		w.stack = append(w.stack, f)
	case string:
		interpreted := sh != nil && sh.kind == shapeString
		if msg := badString(v, raw, rule, interpreted); msg != "" {
			return Validation(FieldError{Field: orRoot(path), Message: msg})
		}
	}
	return nil
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// badString says what is wrong with the decoded string s whose token in
// the body is raw, or "". checkChars applies the character rule (text
// the server interprets), rule.multiline admitting LF and TAB, rule.crlf
// CR before LF too.
func badString(s string, raw []byte, rule fieldRule, checkChars bool) string {
	if !utf8.Valid(raw) || loneSurrogate(raw) {
		return "is not valid UTF-8 (or escapes a lone surrogate)"
	}
	if !checkChars {
		return ""
	}
	if i, r, ok := forbiddenChar(s, rule.multiline, rule.crlf); ok {
		return fmt.Sprintf("must not contain control or format characters (%U at character %d)", r, i+1)
	}
	return ""
}

// forbiddenChar returns the first control or format character of s (its
// index in characters): Unicode categories Cc, Cf, Zl and Zp, except LF
// and TAB when multiline, and CR right before LF when crlf.
func forbiddenChar(s string, multiline, crlf bool) (int, rune, bool) {
	i := 0
	for j, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\t'):
		case crlf && r == '\r' && strings.HasPrefix(s[j+1:], "\n"):
		case r < 0x20 || r >= 0x7f && r <= 0x9f,
			r > 0x7f && (unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)):
			return i, r, true
		}
		i++
	}
	return 0, 0, false
}

// loneSurrogate reports whether the JSON string token raw escapes a UTF-16
// surrogate that is not part of a pair (encoding/json decodes it as
// U+FFFD without a word).
func loneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++
			continue
		}
		r := hex4(raw, i+2)
		switch {
		case r >= 0xd800 && r < 0xdc00:
			if lo := hex4(raw, i+8); i+7 >= len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' || lo < 0xdc00 || lo > 0xdfff {
				return true
			}
			i += 11
		case r >= 0xdc00 && r <= 0xdfff:
			return true
		default:
			i += 5
		}
	}
	return false
}

// hex4 reads the four hex digits at raw[i:], -1 when there are none.
func hex4(raw []byte, i int) rune {
	if i+4 > len(raw) {
		return -1
	}
	n, err := strconv.ParseUint(string(raw[i:i+4]), 16, 32)
	if err != nil {
		return -1
	}
	return rune(n)
}

// The shape of a Go type as the hygiene walker sees it.
type shapeKind int

const (
	shapeFree   shapeKind = iota // any JSON: json.RawMessage, any, an Unmarshaler
	shapeStruct                  // an object of known fields
	shapeMap                     // an object of any keys
	shapeSlice
	shapeString
	shapeScalar // numbers, booleans, TextUnmarshalers
)

type jsonShape struct {
	kind   shapeKind
	fields map[string]fieldShape // struct: by exact JSON name
	folded map[string]string     // struct: lower-cased name → exact name
	elem   *jsonShape            // slice, map
}

type fieldShape struct {
	shape *jsonShape
	rule  fieldRule
}

// fieldRule is what a field's tags say: `text:"multiline"` admits LF and
// TAB in its strings, `text:"pem"` CRLF too; `maxItems:"N"` caps its
// array.
type fieldRule struct {
	multiline, crlf bool
	maxItems        int
}

func (r fieldRule) maxItemsOr(def int) int {
	if r.maxItems > 0 {
		return r.maxItems
	}
	return def
}

var (
	shapeCache        sync.Map // reflect.Type → *jsonShape
	unmarshalerType   = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// shapeOf returns the shape of t, cached.
func shapeOf(t reflect.Type) *jsonShape {
	if t == nil {
		return &jsonShape{kind: shapeFree}
	}
	if s, ok := shapeCache.Load(t); ok {
		return s.(*jsonShape)
	}
	s := buildShape(t, map[reflect.Type]*jsonShape{})
	shapeCache.Store(t, s)
	return s
}

func buildShape(t reflect.Type, seen map[reflect.Type]*jsonShape) *jsonShape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := seen[t]; ok {
		return s
	}
	pt := reflect.PointerTo(t)
	switch {
	case pt.Implements(unmarshalerType) || t.Implements(unmarshalerType):
		return &jsonShape{kind: shapeFree}
	case pt.Implements(textUnmarshalType):
		return &jsonShape{kind: shapeScalar}
	}
	s := &jsonShape{}
	seen[t] = s
	switch t.Kind() {
	case reflect.Struct:
		s.kind, s.fields, s.folded = shapeStruct, map[string]fieldShape{}, map[string]string{}
		addFields(s, t, seen)
	case reflect.Map:
		s.kind, s.elem = shapeMap, buildShape(t.Elem(), seen)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			s.kind = shapeScalar // base64
			break
		}
		s.kind, s.elem = shapeSlice, buildShape(t.Elem(), seen)
	case reflect.String:
		s.kind = shapeString
	case reflect.Interface:
		s.kind = shapeFree
	default:
		s.kind = shapeScalar
	}
	return s
}

// addFields adds the JSON fields of struct t to s, those of embedded
// structs included, as encoding/json names them.
func addFields(s *jsonShape, t reflect.Type, seen map[reflect.Type]*jsonShape) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			addFields(s, ft, seen)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		text := f.Tag.Get("text")
		rule := fieldRule{multiline: text == "multiline" || text == "pem", crlf: text == "pem"}
		if n, err := strconv.Atoi(f.Tag.Get("maxItems")); err == nil && n > 0 {
			rule.maxItems = n
		}
		s.fields[name] = fieldShape{shape: buildShape(f.Type, seen), rule: rule}
		s.folded[strings.ToLower(name)] = name
	}
}
