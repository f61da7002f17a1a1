package ststest

// DefaultMaxCalls is how many calls a server remembers when
// [Config.MaxCalls] is zero.
const DefaultMaxCalls = 10000

// callLog is a ring of the most recent calls, at most max of them.
type callLog struct {
	max   int
	calls []Call // grows to max, then is overwritten oldest first
	next  int    // index of the oldest call once len(calls) == max
}

func (l *callLog) add(c Call) {
	if len(l.calls) < l.max {
		l.calls = append(l.calls, c)
		return
	}
	l.calls[l.next] = c
	l.next = (l.next + 1) % l.max
}

// each calls yield with the calls, oldest first.
func (l *callLog) each(yield func(Call)) {
	for i := range l.calls {
		yield(l.calls[(l.next+i)%len(l.calls)])
	}
}

func (l *callLog) reset() {
	l.calls, l.next = nil, 0
}
