package loadgen

import (
	"encoding/json"
	"strings"
)

// tokenAnswer reads a token endpoint's answer as the code and refresh
// steps check it: the body decodes (encoding/json) into a struct of
// access_token and refresh_token, both non-empty; ok is false otherwise.
// It returns the two tokens.
//
// The server's answers are a flat object of plain strings and integers,
// which readFlatAnswer reads in one pass without reflection (json.Unmarshal
// was a third of the load generator's CPU in a refresh step, which shares
// the machine with the server). Any body it is not sure of (an escape,
// a byte outside printable ASCII, another kind of value, a member whose
// name matches a field only case-insensitively, anything malformed) is
// decoded by json.Unmarshal as before, so the verdict is always
// json.Unmarshal's (FuzzTokenAnswer compares them).
func tokenAnswer(body []byte) (access, refresh string, ok bool) {
	if a, r, sure := readFlatAnswer(body); sure {
		return a, r, a != "" && r != ""
	}
	return tokenAnswerJSON(body)
}

// tokenAnswerJSON is tokenAnswer through encoding/json.
func tokenAnswerJSON(body []byte) (access, refresh string, ok bool) {
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(body, &tok) != nil {
		return "", "", false
	}
	return tok.AccessToken, tok.RefreshToken, tok.AccessToken != "" && tok.RefreshToken != ""
}

// readFlatAnswer reads body when it is, around optional JSON whitespace,
// an object whose members are plain strings (printable ASCII, no escape)
// with values that are plain strings or JSON integers, access_token and
// refresh_token (exactly so spelled) strings if present; sure is false for
// anything else. Members are taken in order, a later one of the same name
// replacing an earlier one, as json.Unmarshal does.
func readFlatAnswer(body []byte) (access, refresh string, sure bool) {
	p := flatParser{b: body}
	p.space()
	if !p.byte('{') {
		return "", "", false
	}
	p.space()
	if p.byte('}') {
		p.space()
		return "", "", p.i == len(p.b)
	}
	var a, r []byte
	for {
		name, ok := p.str()
		if !ok {
			return "", "", false
		}
		p.space()
		if !p.byte(':') {
			return "", "", false
		}
		p.space()
		var field *[]byte
		switch n := string(name); {
		case n == "access_token":
			field = &a
		case n == "refresh_token":
			field = &r
		case strings.EqualFold(n, "access_token") || strings.EqualFold(n, "refresh_token"):
			return "", "", false // encoding/json's case-insensitive match
		}
		if field != nil {
			v, ok := p.str()
			if !ok {
				return "", "", false
			}
			*field = v
		} else if !p.value() {
			return "", "", false
		}
		p.space()
		if p.byte('}') {
			break
		}
		if !p.byte(',') {
			return "", "", false
		}
		p.space()
	}
	p.space()
	if p.i != len(p.b) {
		return "", "", false
	}
	return string(a), string(r), true
}

// flatParser reads the subset of JSON readFlatAnswer accepts.
type flatParser struct {
	b []byte
	i int
}

// space skips JSON whitespace.
func (p *flatParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c if it comes next.
func (p *flatParser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes and returns its
// contents.
func (p *flatParser) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// value reads a plain string or an integer (-?(0|[1-9][0-9]*)).
func (p *flatParser) value() bool {
	if p.i < len(p.b) && p.b[p.i] == '"' {
		_, ok := p.str()
		return ok
	}
	p.byte('-')
	switch {
	case p.byte('0'):
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
	default:
		return false
	}
	// A fraction or an exponent is valid JSON, but not in this subset;
	// neither is a digit after a leading 0.
	return p.i == len(p.b) || !strings.ContainsRune(".eE0123456789", rune(p.b[p.i]))
}
