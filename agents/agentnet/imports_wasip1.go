//go:build wasip1

package agentnet

import "unsafe"

// The agentnet import module (docs/abi.md). Pointers are offsets in the guest's memory.

//go:wasmimport agentnet search
func hostSearch(query unsafe.Pointer, queryLen uint32, limit int32) int32

//go:wasmimport agentnet call
func hostCall(target unsafe.Pointer, targetLen uint32, input unsafe.Pointer, inputLen uint32, maxPrice int64, timeoutMS int32) int32

//go:wasmimport agentnet call_best
func hostCallBest(query unsafe.Pointer, queryLen uint32, input unsafe.Pointer, inputLen uint32, maxPrice int64, timeoutMS int32) int32

//go:wasmimport agentnet result_len
func hostResultLen(handle, field int32) int32

//go:wasmimport agentnet result_read
func hostResultRead(handle, field int32, buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport agentnet exit_code
func hostExitCode(handle int32) int64

//go:wasmimport agentnet verified
func hostVerified(handle int32) int32

//go:wasmimport agentnet close
func hostClose(handle int32) int32

//go:wasmimport agentnet error_len
func hostErrorLen() int32

//go:wasmimport agentnet error_read
func hostErrorRead(buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport agentnet budget
func hostBudget() int64

//go:wasmimport agentnet depth
func hostDepth() int32

// available reports whether the host functions exist: in a wasip1 build they do.
const available = true
