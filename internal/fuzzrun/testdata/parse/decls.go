package parse

import tst "testing"

func FuzzA(f *tst.F)          {}
func Fuzz(f *tst.F)           {}
func Fuzz_b(f *tst.F)         {}
func Fuzzy(f *tst.F)          {}
func FuzzTwo(f *tst.F, n int) {}
func FuzzT(t *tst.T)          {}
func FuzzRet(f *tst.F) error  { return nil }
func (x) FuzzMethod(f *tst.F) {}
func FuzzOther(f *other.F)    {}
func NotFuzz(f *tst.F)        {}
