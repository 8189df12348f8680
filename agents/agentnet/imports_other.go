//go:build !wasip1

package agentnet

import "unsafe"

// Outside WebAssembly there is no host: every function answers "unavailable" (-8), so
// that an agent's code builds and its tests run natively.

func hostSearch(unsafe.Pointer, uint32, int32) int32 { return CodeUnavailable }
func hostCall(unsafe.Pointer, uint32, unsafe.Pointer, uint32, int64, int32) int32 {
	return CodeUnavailable
}
func hostCallBest(unsafe.Pointer, uint32, unsafe.Pointer, uint32, int64, int32) int32 {
	return CodeUnavailable
}
func hostResultLen(int32, int32) int32                          { return CodeUnavailable }
func hostResultRead(int32, int32, unsafe.Pointer, uint32) int32 { return CodeUnavailable }
func hostExitCode(int32) int64                                  { return CodeUnavailable }
func hostVerified(int32) int32                                  { return CodeUnavailable }
func hostClose(int32) int32                                     { return CodeUnavailable }
func hostErrorLen() int32                                       { return CodeUnavailable }
func hostErrorRead(unsafe.Pointer, uint32) int32                { return CodeUnavailable }
func hostBudget() int64                                         { return CodeUnavailable }
func hostDepth() int32                                          { return CodeUnavailable }

const available = false
