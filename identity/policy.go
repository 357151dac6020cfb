package identity

import (
	_ "embed"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
)

// Password rules (API.md "Users and sign-in").
const (
	MinPasswordLen = 12
	// MaxPasswordLen bounds what a request makes the server hash.
	MaxPasswordLen = 256
	// MinPasswordScore is the least zxcvbn score (0–4) a password needs:
	// 3 is "safely unguessable: moderate protection from an offline
	// slow-hash scenario" (about 10^8 guesses and more), Dropbox's own
	// recommendation for zxcvbn.
	MinPasswordScore = 3
	// estimateRunes is how much of a password the estimate reads (its
	// matching grows faster than linearly with the length; a password
	// whose first 64 characters are strong is strong).
	estimateRunes = 64
)

//go:embed common-passwords.txt
var commonPasswordsText string

// commonPasswords is the embedded list, lower-cased.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(commonPasswordsText, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[strings.ToLower(l)] = true
		}
	}
	return m
}()

// CheckPassword returns why password is not acceptable for the user of
// email, or "" when it is: at least MinPasswordLen characters (at most
// MaxPasswordLen), not the e-mail or its local part, not a trivial
// repetition or sequence, not a common breached password, and not easy
// to guess by zxcvbn's estimate (its dictionaries of passwords from
// breaches, words, names and keyboard patterns, with the e-mail's parts as
// user inputs): score at least MinPasswordScore.
func CheckPassword(password, email string) string {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return "must be valid UTF-8"
	case n < MinPasswordLen:
		return "must be at least 12 characters long"
	case n > MaxPasswordLen:
		return "must be at most 256 characters long"
	}
	lower := strings.ToLower(password)
	e := strings.ToLower(email)
	local, _, _ := strings.Cut(e, "@")
	if lower == e || (local != "" && strings.Contains(lower, local) && len(local)*2 >= len(lower)) {
		return "must not be the e-mail address or resemble its local part"
	}
	if trivial(lower) {
		return "must not be a repetition or a sequence of characters"
	}
	if commonPasswords[lower] {
		return "is a commonly used password found in breaches; choose another"
	}
	if guessable(password, e) {
		return "is too easy to guess: it is close to common passwords, words or patterns; choose a longer or less predictable one"
	}
	return ""
}

// guessable: zxcvbn scores the password (its first estimateRunes
// characters) below MinPasswordScore, given the e-mail address and its
// parts as what an attacker knows of the user.
func guessable(password, email string) bool {
	if rs := []rune(password); len(rs) > estimateRunes {
		password = string(rs[:estimateRunes])
	}
	hints := []string{email}
	for _, part := range strings.FieldsFunc(email, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(part) >= 3 {
			hints = append(hints, part)
		}
	}
	return zxcvbn.PasswordStrength(password, hints).Score < MinPasswordScore
}

// trivial reports a password made of a short unit repeated
// ("abcabcabcabc"), of few distinct characters ("aaaaaaaaaaab"), or of a
// run that steps by one ("abcdefghijkl", "987654321098") or along a
// keyboard row ("qwertyuiopas").
func trivial(s string) bool {
	rs := []rune(s)
	distinct := map[rune]bool{}
	for _, r := range rs {
		distinct[r] = true
	}
	if len(distinct) < 5 {
		return true
	}
	for period := 1; period <= len(rs)/2; period++ {
		if repeats(rs, period) {
			return true
		}
	}
	return stepsByOne(rs) || keyboardWalk(s)
}

func repeats(rs []rune, period int) bool {
	for i := period; i < len(rs); i++ {
		if rs[i] != rs[i-period] {
			return false
		}
	}
	return true
}

// stepsByOne: every character is the previous one plus one, or every one
// minus one (digits wrap: 9 then 0).
func stepsByOne(rs []rune) bool {
	for _, dir := range []int{1, -1} {
		ok := true
		for i := 1; i < len(rs) && ok; i++ {
			ok = next(rs[i-1], dir) == rs[i]
		}
		if ok {
			return true
		}
	}
	return false
}

func next(r rune, dir int) rune {
	if unicode.IsDigit(r) && r <= '9' {
		return '0' + (r-'0'+rune(dir)+10)%10
	}
	return r + rune(dir)
}

// keyboardRows are the rows of a US keyboard, wrapped end to start, and
// reversed, that walks follow.
var keyboardRows = []string{"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"}

// keyboardWalk: the whole password follows keyboard rows left to right or
// right to left, moving to the start of the next row at a row's end.
func keyboardWalk(s string) bool {
	all := strings.Join(keyboardRows, "")
	rev := reverse(all)
	for _, k := range []string{all + all, rev + rev} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func reverse(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}
