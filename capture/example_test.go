package capture_test

import (
	"context"
	"fmt"

	"enrollstation/capture"
)

// A consumer takes the newest frame, uses it and closes it; the pump drops frames the
// consumer was too slow for. OnEvent may run on any goroutine: a GUI hands it to its
// UI thread.
func ExampleStartPump() {
	ctx := context.Background()
	pump, err := capture.StartPump(ctx, capture.SpecOpener("synthetic:320x240", capture.Options{Fast: true}), capture.PumpOptions{
		OnEvent: func(e capture.Event) {
			if e.State == capture.StateDisconnected {
				fmt.Println("camera lost:", e.Err)
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pump.Stop()
	for i := 0; i < 3; i++ {
		f, err := pump.Next(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		m, err := capture.Measure(f.Mat)
		f.Close() // the consumer owns the frame
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%dx%d sharp enough: %v\n", m.Width, m.Height, m.SharpnessNorm > 50)
	}
	// Output:
	// 320x240 sharp enough: true
	// 320x240 sharp enough: true
	// 320x240 sharp enough: true
}
