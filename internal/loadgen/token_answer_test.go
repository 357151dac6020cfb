package loadgen

import (
	"strings"
	"testing"
)

// tokenAnswerSeeds are answers like the server's and bodies at the edges
// of readFlatAnswer's subset.
var tokenAnswerSeeds = []string{
	`{"access_token":"eyJ.a.b","expires_in":3599,"id_token":"eyJ.c.d","refresh_token":"ory_rt_x.y","scope":"openid offline_access bench.read","token_type":"Bearer"}` + "\n",
	`{"access_token":"a","refresh_token":"r"}`,
	` {"access_token" : "a" , "refresh_token":"r" } `,
	`{"access_token":"a"}`,
	`{"access_token":"","refresh_token":"r"}`,
	`{"access_token":"a","refresh_token":"r","access_token":"b"}`,
	`{"access_token":"a","refresh_token":"r","access_token":""}`,
	`{"access_token":"a","refresh_token":null}`,
	`{"access_token":"a","refresh_token":"r","refresh_token":null}`,
	`{"access_token":"a","refresh_token":1}`,
	`{"ACCESS_TOKEN":"a","refresh_token":"r"}`,
	`{"Refresh_Token":"x","access_token":"a","refresh_token":"r"}`,
	`{"access_token":"a\u0041","refresh_token":"r"}`,
	`{"access_token":"a\"","refresh_token":"r"}`,
	`{"access_token":"é","refresh_token":"r"}`,
	"{\"access_token\":\"a\xff\",\"refresh_token\":\"r\"}",
	`{"access_token":"a","refresh_token":"r","expires_in":-0}`,
	`{"access_token":"a","refresh_token":"r","expires_in":01}`,
	`{"access_token":"a","refresh_token":"r","expires_in":1.5}`,
	`{"access_token":"a","refresh_token":"r","expires_in":1e3}`,
	`{"access_token":"a","refresh_token":"r","expires_in":-}`,
	`{"access_token":"a","refresh_token":"r","x":true}`,
	`{"access_token":"a","refresh_token":"r","x":{"y":[1,2]}}`,
	`{"access_token":"a","refresh_token":"r",}`,
	`{"access_token":"a","refresh_token":"r"}x`,
	`{"access_token":"a","refresh_token":"r"}{}`,
	`{"access_token":"a" "refresh_token":"r"}`,
	`{"access_token":"a","refresh_token":"r"`,
	`{}`,
	`{ }`,
	`null`,
	`[]`,
	`"x"`,
	``,
	`{"acceſs_token":"a","refresh_token":"r"}`,
	`{"access_token":"a","refresh_token":"r","x":"\u0000"}`,
	"{\"access_token\":\"a\",\"refresh_token\":\"r\",\"x\":\"\t\"}",
}

// TestTokenAnswer: the step's check of a token answer is json.Unmarshal's
// verdict and tokens, whether readFlatAnswer reads the body or leaves it
// to encoding/json; the server's answer is read by the fast path.
func TestTokenAnswer(t *testing.T) {
	for _, s := range tokenAnswerSeeds {
		checkTokenAnswer(t, []byte(s))
	}
	if _, _, sure := readFlatAnswer([]byte(tokenAnswerSeeds[0])); !sure {
		t.Error("the server's answer is not read by readFlatAnswer")
	}
	if a, r, ok := tokenAnswer([]byte(tokenAnswerSeeds[0])); !ok || a != "eyJ.a.b" || r != "ory_rt_x.y" {
		t.Errorf("the server's answer: %q %q %v", a, r, ok)
	}
}

// FuzzTokenAnswer compares tokenAnswer with encoding/json on any body.
func FuzzTokenAnswer(f *testing.F) {
	for _, s := range tokenAnswerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkTokenAnswer)
}

func checkTokenAnswer(t *testing.T, body []byte) {
	a, r, ok := tokenAnswer(body)
	wa, wr, wok := tokenAnswerJSON(body)
	if ok != wok || (ok && (a != wa || r != wr)) {
		t.Errorf("%q: got %q %q %v, encoding/json %q %q %v", body, a, r, ok, wa, wr, wok)
	}
	if fa, fr, sure := readFlatAnswer(body); sure && (fa != wa || fr != wr) {
		t.Errorf("%q: readFlatAnswer %q %q, encoding/json %q %q", body, fa, fr, wa, wr)
	}
}

// BenchmarkTokenAnswer: a server's answer read by tokenAnswer and by
// encoding/json (what the steps did before).
func BenchmarkTokenAnswer(b *testing.B) {
	// The sizes of a refresh's answer: an access token and an ID token
	// of about 650 octets each.
	body := []byte(`{"access_token":"` + strings.Repeat("a", 640) + `","expires_in":3599,"id_token":"` + strings.Repeat("b", 690) +
		`","refresh_token":"ory_rt_` + strings.Repeat("c", 43) + "." + strings.Repeat("d", 43) +
		`","scope":"openid offline_access bench.read","token_type":"Bearer"}` + "\n")
	for _, f := range []struct {
		name string
		read func([]byte) (string, string, bool)
	}{{"flat", tokenAnswer}, {"encoding-json", tokenAnswerJSON}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := f.read(body); !ok {
					b.Fatal("not ok")
				}
			}
		})
	}
}
