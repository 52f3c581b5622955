package lock

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC)

func TestJudge(t *testing.T) {
	const d = 30 * time.Second
	seen := func(holder, renew, rv string, at time.Time) observation {
		return observation{holder: holder, renew: renew, rv: rv, at: at}
	}
	tests := []struct {
		name        string
		first, last observation
		now         time.Time
		want        Verdict
	}{
		{"a released lease is free", seen("", "", "1", t0), seen("", "", "1", t0), t0, Free},
		{"a lease renewed while we watched is alive, however far its renewTime lies behind our clock (skew)",
			seen("a", "2020-01-01T00:00:00Z", "1", t0), seen("a", "2020-01-01T00:00:10Z", "2", t0.Add(10*time.Second)), t0.Add(10 * time.Second), Alive},
		{"a lease unchanged for its whole duration by our clock has expired, even if its renewTime lies in our future (skew)",
			seen("a", "2099-01-01T00:00:00Z", "1", t0), seen("a", "2099-01-01T00:00:00Z", "1", t0.Add(d)), t0.Add(d), Expired},
		{"a lease unchanged for less than its duration is not judged yet, even if its renewTime looks ancient",
			seen("a", "2020-01-01T00:00:00Z", "1", t0), seen("a", "2020-01-01T00:00:00Z", "1", t0.Add(d-time.Second)), t0.Add(d - time.Second), Unknown},
		{"a lease taken by another holder while we watched is alive", seen("a", "x", "1", t0), seen("b", "x", "2", t0.Add(time.Second)), t0.Add(time.Second), Alive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := judge(tt.first, tt.last, d, tt.now); got != tt.want {
				t.Fatalf("judge = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidateDuration(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		ok   bool
	}{
		{"zero means the default", 0, true},
		{"five seconds is the shortest", 5 * time.Second, true},
		{"ten minutes is the longest", 10 * time.Minute, true},
		{"half a second is refused", 500 * time.Millisecond, false},
		{"a million hours is refused", 1000000 * time.Hour, false},
		{"fractions of a second are refused (a Lease counts whole seconds)", 5500 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateDuration(tt.d)
			var de *DurationError
			if (err == nil) != tt.ok || (err != nil && !errors.As(err, &de)) {
				t.Fatalf("ValidateDuration(%s) = %v", tt.d, err)
			}
		})
	}
}

func heldLease(holder string, renew time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: LeaseName("app"), Namespace: "ns", ResourceVersion: "1"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To(int32(30)),
			RenewTime: ptr.To(metav1.NewMicroTime(renew)), AcquireTime: ptr.To(metav1.NewMicroTime(renew))},
	}
}

// acquire runs Acquire, moving the fake clock whenever Acquire waits on it.
func acquire(t *testing.T, l *Locker, clk *clocktesting.FakeClock, onWait func()) (*Lock, error) {
	t.Helper()
	type res struct {
		lk  *Lock
		err error
	}
	done := make(chan res, 1)
	go func() {
		lk, err := l.Acquire(context.Background(), "ns", "app")
		done <- res{lk, err}
	}()
	for {
		select {
		case r := <-done:
			return r.lk, r.err
		default:
		}
		if clk.HasWaiters() {
			if onWait != nil {
				onWait()
			}
			clk.Step(10 * time.Second)
		}
		runtime.Gosched()
	}
}

func TestAcquireTakesOverALeaseThatStoppedChanging(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	// The dead holder's clock ran an hour ahead: its renewTime lies in our future.
	client := fake.NewClientset(heldLease("dead run", t0.Add(time.Hour)))
	l := &Locker{Client: client, Clock: clk, Holder: "me"}
	lk, err := acquire(t, l, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lk.Release(context.Background()) }()
	if !lk.TookOver || lk.PreviousHolder != "dead run" {
		t.Fatalf("TookOver %v from %q", lk.TookOver, lk.PreviousHolder)
	}
	if got := clk.Since(t0); got < 30*time.Second {
		t.Fatalf("took over after %s of observation, want a full lease duration", got)
	}
}

func TestAcquireRefusesALeaseThatIsRenewedWhileItWatches(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	// The live holder's clock runs an hour behind: by comparing clocks it would look
	// expired.
	client := fake.NewClientset(heldLease("live run", t0.Add(-time.Hour)))
	l := &Locker{Client: client, Clock: clk, Holder: "me"}
	renewals := 0
	_, err := acquire(t, l, clk, func() {
		renewals++
		lease := heldLease("live run", t0.Add(-time.Hour+time.Duration(renewals)*10*time.Second))
		lease.ResourceVersion = "2"
		if _, err := client.CoordinationV1().Leases("ns").Update(context.Background(), lease, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
		}
	})
	var held *HeldError
	if !errors.As(err, &held) || held.Holder != "live run" {
		t.Fatalf("err = %v, want a HeldError naming the live run", err)
	}
}

func leaseGVR() schema.GroupVersionResource {
	return coordinationv1.SchemeGroupVersion.WithResource("leases")
}

func TestRenewal(t *testing.T) {
	conflict := func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		return true, nil, apierrors.NewConflict(leaseGVR().GroupResource(), LeaseName("app"), errors.New("changed"))
	}
	tests := []struct {
		name string
		// setup changes the stored lease after the lock was taken.
		setup    func(t *testing.T, c *fake.Clientset, me string)
		wantLost string
	}{
		{"a deleted Lease is a loss", func(t *testing.T, c *fake.Clientset, _ string) {
			c.PrependReactor("update", "leases", conflict)
			if err := c.CoordinationV1().Leases("ns").Delete(context.Background(), LeaseName("app"), metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, "deleted"},
		{"a Lease another run took is a loss", func(t *testing.T, c *fake.Clientset, _ string) {
			if _, err := c.CoordinationV1().Leases("ns").Update(context.Background(), heldLease("thief", t0), metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			c.PrependReactor("update", "leases", conflict)
		}, "taken by thief"},
		{"a renewal that the server applied though its answer was lost is no loss", func(t *testing.T, c *fake.Clientset, me string) {
			first := true
			c.PrependReactor("update", "leases", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
				if first {
					first = false
					return true, nil, apierrors.NewConflict(leaseGVR().GroupResource(), LeaseName("app"), errors.New("changed"))
				}
				return false, nil, nil
			})
		}, ""},
		{"an API server that does not answer is no loss yet", func(t *testing.T, c *fake.Clientset, _ string) {
			c.PrependReactor("update", "leases", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
				return true, nil, apierrors.NewServiceUnavailable("down")
			})
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			c := fake.NewClientset()
			l := &Locker{Client: c, Clock: clk, Holder: "me"}
			lk, err := l.Acquire(context.Background(), "ns", "app")
			if err != nil {
				t.Fatal(err)
			}
			lk.release() // drive renewals by hand
			<-lk.done
			tt.setup(t, c, l.Identity())
			err = lk.renewOnce(context.Background())
			var lost *LostError
			switch {
			case tt.wantLost == "" && errors.As(err, &lost):
				t.Fatalf("lost: %v", err)
			case tt.wantLost != "" && (!errors.As(err, &lost) || !strings.Contains(lost.Reason, tt.wantLost)):
				t.Fatalf("renewOnce = %v, want a loss: %s", err, tt.wantLost)
			}
		})
	}
}

func TestARenewalLoopThatCannotRenewForTwoThirdsOfTheDurationCancelsTheRun(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	c := fake.NewClientset()
	l := &Locker{Client: c, Clock: clk, Holder: "me"}
	lk, err := l.Acquire(context.Background(), "ns", "app")
	if err != nil {
		t.Fatal(err)
	}
	c.PrependReactor("update", "leases", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("down")
	})
	ctx, cancel := lk.Context(context.Background())
	defer cancel()
	for ctx.Err() == nil {
		if clk.HasWaiters() {
			clk.Step(10 * time.Second)
		}
		runtime.Gosched()
	}
	var lost *LostError
	if !errors.As(context.Cause(ctx), &lost) || clk.Since(t0) < 20*time.Second {
		t.Fatalf("cause %v after %s", context.Cause(ctx), clk.Since(t0))
	}
}

func TestRenewalSchedule(t *testing.T) {
	tests := []struct {
		name         string
		d, since     time.Duration
		wantInterval time.Duration
		wantBudget   time.Duration
		wantOK       bool
	}{
		{"a 5 s Lease is renewed every 833 ms, and its first renewal may take 2.5 s", 5 * time.Second, 5 * time.Second / 6, 5 * time.Second / 6, 5*time.Second*2/3 - 5*time.Second/6, true},
		{"a renewal slower than its interval is no loss while two thirds of the Lease are left", 5 * time.Second, 3 * time.Second, 5 * time.Second / 6, 5*time.Second*2/3 - 3*time.Second, true},
		{"the default Lease is renewed every 2 s, and a renewal may take 18 s", DefaultDuration, 2 * time.Second, 2 * time.Second, 18 * time.Second, true},
		{"two thirds of the Lease without a renewal give the lock up", DefaultDuration, 20 * time.Second, 2 * time.Second, 0, false},
		{"a run that slept past its Lease (a laptop's lid) gives the lock up at once", DefaultDuration, time.Hour, 2 * time.Second, 20*time.Second - time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renewInterval(tt.d); got != tt.wantInterval {
				t.Errorf("renewInterval(%s) = %s, want %s", tt.d, got, tt.wantInterval)
			}
			if got := retryInterval(tt.d); got != tt.wantInterval/4 {
				t.Errorf("retryInterval(%s) = %s, want a quarter of %s", tt.d, got, tt.wantInterval)
			}
			budget, ok := renewBudget(tt.d, tt.since)
			if budget != tt.wantBudget || ok != tt.wantOK {
				t.Errorf("renewBudget(%s, %s) = %s, %t; want %s, %t", tt.d, tt.since, budget, ok, tt.wantBudget, tt.wantOK)
			}
			// The lock is given up before another run may take the Lease over.
			if ok && tt.since+budget > tt.d*2/3 {
				t.Errorf("a renewal may end %s after the last, past two thirds of %s", tt.since+budget, tt.d)
			}
		})
	}
}

func TestARenewalThatFailsFastIsTriedAgainWithinTheBudget(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	c := fake.NewClientset()
	l := &Locker{Client: c, Clock: clk, Holder: "me", Duration: 6 * time.Second}
	lk, err := l.Acquire(context.Background(), "ns", "app")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lk.Release(context.Background()) }()
	// Six renewals fail at once (the API server away for a moment), the seventh
	// succeeds: failed renewals are tried again a quarter interval apart, so the seventh
	// comes 2.5 s after the last success, within the 4 s budget. At one try per interval
	// the fourth would have come too late and the lock been lost.
	var updates atomic.Int32
	renewed := make(chan struct{})
	c.PrependReactor("update", "leases", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		switch n := updates.Add(1); {
		case n <= 6:
			return true, nil, apierrors.NewServiceUnavailable("down")
		case n == 8:
			close(renewed)
		}
		return false, nil, nil
	})
	for {
		select {
		case <-renewed:
			if err := lk.Err(); err != nil {
				t.Fatalf("lost: %v", err)
			}
			return
		case <-lk.Lost():
			t.Fatalf("lost after %d renewals: %v", updates.Load(), lk.Err())
		default:
		}
		if clk.HasWaiters() {
			clk.Step(time.Second / 4) // the retry interval of a 6 s Lease
		}
		runtime.Gosched()
	}
}
