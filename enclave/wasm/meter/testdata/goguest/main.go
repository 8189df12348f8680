// Command goguest is a Go wasip1 command for the metering differential tests: each
// argument names a task whose output goes to stdout, so the original and the metered
// module can be compared byte for byte. Build with build.sh.
package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentnet/agentnode/enclave/wasm/meter/metertest"
)

func main() {
	tasks := os.Args[1:]
	if len(tasks) == 0 {
		tasks = []string{"hello", "sha", "json", "mix", "goroutines", "mem", "float", "time"}
	}
	for _, task := range tasks {
		name, arg, _ := strings.Cut(task, "=")
		switch name {
		case "hello":
			fmt.Println("hello from a Go guest")
		case "sha":
			sum := sha256.Sum256(metertest.Pattern(64 << 10))
			fmt.Printf("sha256 %x\n", sum)
			fmt.Printf("plain  %x\n", metertest.SHA256(metertest.Pattern(1000)))
		case "json":
			sum, err := metertest.JSONParse(metertest.JSONDoc(200))
			fmt.Println("json", sum, err)
		case "mix":
			mix()
		case "goroutines":
			goroutines()
		case "mem":
			mem()
		case "float":
			for _, x := range []float64{0.1, math.Pi, 1e300, -0, math.Inf(1), math.NaN()} {
				fmt.Println(strconv.FormatFloat(math.Sqrt(x)*3, 'g', -1, 64), math.Float64bits(math.Sin(x)))
			}
		case "time":
			fmt.Println(time.Now().UTC().Format(time.RFC3339Nano))
		case "stdin":
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				fmt.Println(strings.ToUpper(sc.Text()))
			}
		case "cat":
			n, err := io.Copy(os.Stdout, os.Stdin)
			fmt.Fprintln(os.Stderr, "copied", n, err)
		case "exit":
			code, _ := strconv.Atoi(arg)
			fmt.Println("exiting with", code)
			os.Exit(code)
		case "panic":
			panic("guest panics: " + arg)
		case "spin":
			for i := 0; ; i++ {
				if i < 0 {
					fmt.Println(i)
				}
			}
		default:
			fmt.Fprintln(os.Stderr, "unknown task", name)
			os.Exit(64)
		}
	}
}

func mix() {
	m := map[string]int{}
	for i := 0; i < 5000; i++ {
		m[strconv.Itoa(i*7919%10007)] += i
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys[:20] {
		fmt.Fprintf(&b, "%s:%d ", k, m[k])
	}
	fmt.Println("mix", len(keys), b.String())
	defer func() { fmt.Println("recovered:", recover()) }()
	var arr []int
	_ = arr[len(keys)]
}

func goroutines() {
	var wg sync.WaitGroup
	ch := make(chan int)
	results := make([]int, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for v := range ch {
				results[w] += v * (w + 1)
				runtime.Gosched()
			}
		}(w)
	}
	for i := 0; i < 10000; i++ {
		ch <- i
	}
	close(ch)
	wg.Wait()
	total := 0
	for _, r := range results {
		total += r
	}
	fmt.Println("goroutines", total > 0, metertest.Fib(20), metertest.FibRec(20), metertest.Loop(100000))
}

func mem() {
	var keep [][]byte
	total := 0
	for i := 0; i < 64; i++ {
		b := make([]byte, 256<<10)
		for j := range b {
			b[j] = byte(i + j)
		}
		total += int(b[len(b)-1])
		if i%4 == 0 {
			keep = append(keep, b)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Println("mem", total, len(keep), ms.NumGC > 0)
}
