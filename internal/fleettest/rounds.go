package fleettest

// Refresh is one successful refresh of a host's provider (Host.Refreshes).
type Refresh struct {
	Phase int  `json:"p"` // the host's phase when it ended
	STS   bool `json:"s"` // it called STS; false: it took another host's session from the cache
	// Expires is the expiry of the session it brought (Unix milliseconds),
	// which names the session: every host that takes a session from the
	// cache sees the expiry STS gave it.
	Expires int64 `json:"e"`
	// Replaced is the expiry of the session it replaced; zero for the
	// provider's first fetch.
	Replaced int64 `json:"r"`
}

// Rounds is what CountRounds found.
type Rounds struct {
	// STS is, per customer role, per round, how many refreshes of all the
	// hosts called STS.
	STS map[string][]int
	// Unplaced is how many refreshes took a session that no refresh of
	// the hosts fetched from STS.
	Unplaced int
}

// CountRounds tells the refresh rounds of a fleet from every host's
// Refreshes. Round 0 is the sessions of the first fetches, round k+1 the
// sessions that replaced a session of round k; a refresh is in the round
// of the session it brought, whether it called STS or took the session
// from the cache. Rounds are so counted by event, whenever they come: the
// first refreshes are spread over the first session, so one role's
// rounds overlap another's, and a host whose first fetch took a session
// another host had already refreshed starts in round 1.
//
// With a shared cache (shared true) a round is one STS call and the
// others take its session; two calls in one round of a role (two hosts
// that replaced the same session each with STS) are two sessions of the
// same round. Without one, each host's sessions are its own, told apart
// by host as well as by expiry, and every round of a role is W STS calls.
func CountRounds(hosts []map[string][]Refresh, shared bool) Rounds {
	// A session is named by its expiry, and without a shared cache by its
	// host too.
	type session struct {
		host    int
		expires int64
	}
	type hostRefresh struct {
		Refresh
		host int
	}
	byRole := make(map[string][]hostRefresh)
	for i, h := range hosts {
		if shared {
			i = 0
		}
		for role, seq := range h {
			for _, r := range seq {
				byRole[role] = append(byRole[role], hostRefresh{r, i})
			}
		}
	}
	out := Rounds{STS: make(map[string][]int, len(byRole))}
	for role, refreshes := range byRole {
		fetched := make(map[session]hostRefresh) // session → the refresh that called STS for it
		for _, r := range refreshes {
			if _, seen := fetched[session{r.host, r.Expires}]; r.STS && !seen {
				fetched[session{r.host, r.Expires}] = r
			}
		}
		rounds := make(map[session]int) // session → its round; -1 while being found
		var roundOf func(s session) int
		roundOf = func(s session) int {
			if k, ok := rounds[s]; ok {
				return k
			}
			rounds[s] = -1 // a cycle is no round
			r, ok := fetched[s]
			k := -1
			switch {
			case !ok:
			case r.Replaced == 0:
				k = 0
			default:
				if prev := roundOf(session{r.host, r.Replaced}); prev >= 0 {
					k = prev + 1
				}
			}
			rounds[s] = k
			return k
		}
		var sts []int
		for _, r := range refreshes {
			k := roundOf(session{r.host, r.Expires})
			if k < 0 {
				out.Unplaced++
				continue
			}
			for len(sts) <= k {
				sts = append(sts, 0)
			}
			if r.STS {
				sts[k]++
			}
		}
		out.STS[role] = sts
	}
	return out
}
