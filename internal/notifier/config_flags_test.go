package notifier

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// --burst, --give-up and --burst-window set to zero or less are refused
// when parsed (zero would otherwise mean "the default" and be replaced
// silently); valid values and the defaults come through.
func TestRegisterRefusesZeroAndNegative(t *testing.T) {
	parse := func(args ...string) (Config, error) {
		var c Config
		fs := flag.NewFlagSet("notifier", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.Register(fs)
		return c, fs.Parse(args)
	}
	for _, args := range [][]string{{"--burst", "0"}, {"--burst", "-3"}, {"--give-up", "0"}, {"--burst-window", "-1s"}, {"--burst", "x"}} {
		if _, err := parse(args...); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "--")) {
			t.Errorf("%v: accepted (%v)", args, err)
		}
	}
	c, err := parse()
	if err != nil || c.Burst != DefaultBurst || c.GiveUp != DefaultGiveUp || c.BurstWindow != DefaultBurstWindow {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = parse("--burst", "1", "--give-up", "5m", "--burst-window", "2s")
	if err != nil || c.Burst != 1 || c.GiveUp != 5*time.Minute || c.BurstWindow != 2*time.Second {
		t.Fatalf("valid values: burst %d give-up %v window %v, %v", c.Burst, c.GiveUp, c.BurstWindow, err)
	}
}
