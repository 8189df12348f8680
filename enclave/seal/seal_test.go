package seal

import (
	"bytes"
	"crypto/hpke"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC9180Vector opens the published test vector of RFC 9180 appendix
// A.2.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305, base
// mode, sequence number 0), framed as one of our envelopes, and checks key
// derivation and the exporter against the RFC's values.
func TestRFC9180Vector(t *testing.T) {
	var (
		ikmR = unhex(t, "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df")
		skRm = unhex(t, "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb")
		pkRm = unhex(t, "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a")
		enc  = unhex(t, "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a")
		info = unhex(t, "4f6465206f6e2061204772656369616e2055726e")
		aad  = unhex(t, "436f756e742d30")
		pt   = unhex(t, "4265617574792069732074727574682c20747275746820626561757479")
		ct   = unhex(t, "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28")
		exp0 = unhex(t, "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e")
	)
	kem, err := X25519.kem()
	if err != nil {
		t.Fatal(err)
	}
	derived, err := kem.DeriveKeyPair(ikmR)
	if err != nil {
		t.Fatal(err)
	}
	if got := derived.PublicKey().Bytes(); !bytes.Equal(got, pkRm) {
		t.Fatalf("DeriveKeyPair public key = %x, want %x", got, pkRm)
	}
	sk, err := kem.NewPrivateKey(skRm)
	if err != nil {
		t.Fatal(err)
	}
	priv := newPrivateKey(X25519, sk)
	if !bytes.Equal(priv.PublicKey().Bytes(), pkRm) {
		t.Fatalf("public key of skRm = %x, want %x", priv.PublicKey().Bytes(), pkRm)
	}
	got, err := Open(priv, info, aad, append(bytes.Clone(enc), ct...))
	if err != nil {
		t.Fatalf("open RFC 9180 A.2.1 vector: %v", err)
	}
	if !bytes.Equal(got, pt) {
		t.Fatalf("plaintext = %q, want %q", got, pt)
	}
	r, err := hpke.NewRecipient(enc, sk, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), info)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := r.Export("", 32); !bytes.Equal(e, exp0) {
		t.Fatalf("export = %x, want %x", e, exp0)
	}
}

func TestRoundTripAndTamper(t *testing.T) {
	for _, s := range Suites() {
		t.Run(string(s), func(t *testing.T) {
			priv, err := GenerateKey(s)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ParsePublicKey(s, priv.PublicKey().Bytes())
			if err != nil {
				t.Fatal(err)
			}
			info, aad, msg := []byte("agentnet/test/v1"), []byte("session|request"), []byte("attack at dawn")
			env, err := Seal(pub, info, aad, msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(env) != len(msg)+s.Overhead() {
				t.Fatalf("envelope is %d bytes, want %d", len(env), len(msg)+s.Overhead())
			}
			got, err := Open(priv, info, aad, env)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("Open = %q, %v", got, err)
			}
			again, _ := Seal(pub, info, aad, msg)
			if bytes.Equal(again, env) {
				t.Fatal("two seals of one message are equal: encapsulation is not fresh")
			}
			for i := range env {
				bad := bytes.Clone(env)
				bad[i] ^= 1
				if _, err := Open(priv, info, aad, bad); !errors.Is(err, ErrDecrypt) {
					t.Fatalf("flipped byte %d: err = %v, want ErrDecrypt", i, err)
				}
			}
			if _, err := Open(priv, []byte("agentnet/other/v1"), aad, env); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("other info: err = %v", err)
			}
			if _, err := Open(priv, info, []byte("session|other"), env); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("other aad: err = %v", err)
			}
			other, _ := GenerateKey(s)
			if _, err := Open(other, info, aad, env); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("other key: err = %v", err)
			}
			if _, err := Open(priv, info, aad, env[:s.EncapsulationSize()]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("short envelope: err = %v", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := ParseSuite("rsa"); !errors.Is(err, ErrUnknownSuite) {
		t.Fatalf("ParseSuite(rsa) = %v", err)
	}
	if s, err := ParseSuite(""); err != nil || s != X25519 {
		t.Fatalf("ParseSuite(\"\") = %q, %v", s, err)
	}
	if _, err := ParsePublicKey(X25519, make([]byte, 31)); !errors.Is(err, ErrBadKey) {
		t.Fatalf("short key: %v", err)
	}
	if _, err := ParsePublicKey(MLKEM768X25519, make([]byte, 32)); !errors.Is(err, ErrBadKey) {
		t.Fatalf("x25519-sized hybrid key: %v", err)
	}
	if _, err := GenerateKey("nope"); !errors.Is(err, ErrUnknownSuite) {
		t.Fatalf("GenerateKey(nope) = %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	priv, err := GenerateKey(X25519)
	if err != nil {
		f.Fatal(err)
	}
	env, _ := Seal(priv.PublicKey(), []byte("i"), []byte("a"), []byte("hello"))
	f.Add(env)
	f.Add([]byte{})
	f.Add(make([]byte, 48))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Only the envelope sealed above may open: anything else is a forgery.
		if _, err := Open(priv, []byte("i"), []byte("a"), b); err == nil && !bytes.Equal(b, env) {
			t.Fatalf("forged envelope %x opened", b)
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	priv, _ := GenerateKey(MLKEM768X25519)
	f.Add([]byte("x25519"), make([]byte, 32))
	f.Add([]byte("mlkem768x25519"), priv.PublicKey().Bytes())
	f.Fuzz(func(t *testing.T, suite, b []byte) {
		s, err := ParseSuite(string(suite))
		if err != nil {
			return
		}
		if k, err := ParsePublicKey(s, b); err == nil && !bytes.Equal(k.Bytes(), b) {
			t.Fatalf("parsed key re-serializes differently")
		}
	})
}

func BenchmarkSealOpen(b *testing.B) {
	for _, s := range Suites() {
		b.Run(string(s), func(b *testing.B) {
			priv, _ := GenerateKey(s)
			msg := make([]byte, 256)
			for b.Loop() {
				env, err := Seal(priv.PublicKey(), []byte("i"), []byte("a"), msg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Open(priv, []byte("i"), []byte("a"), env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
