package fuzzmod

import (
	"bytes"
	tst "testing"
)

func FuzzReverse(f *tst.F) {
	f.Add([]byte("abc"))
	f.Fuzz(func(t *tst.T, b []byte) {
		c := bytes.Clone(b)
		Reverse(c)
		Reverse(c)
		if !bytes.Equal(b, c) {
			t.Fatal("not an involution")
		}
	})
}

func FuzzBroken(f *tst.F) {
	f.Add(0)
	f.Fuzz(func(t *tst.T, n int) {
		if n >= 0 {
			t.Fatal("broken on purpose")
		}
	})
}
