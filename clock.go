package stschain

import (
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// STS's clock against the host's. An Expiration is a moment on STS's
// clock; a host whose clock is behind would hand out credentials STS has
// already expired, and one ahead by more than a session would find every
// answer expired on arrival. Each answer's Date header says what time STS
// had, as the SDK's retryer reads it to correct a skewed signing time
// (aws/middleware.RecordResponseTiming), so that the answer's checks,
// and everything after them (the schedule, the credentials handed out,
// the cache), run on the host's clock.

// answerSkew returns how far STS's clock was ahead of the host's when it
// answered a request sent at sent, from the answer's metadata md: the
// span [least, most] that the Date header, in whole seconds and written
// some time between sent and the answer's arrival (responseAt), allows:
// Date - responseAt to Date + 1s - sent. ok is false when the answer has
// no Date, when the span holds zero (the clocks agree as far as the
// answer can tell), and when the skew would be more than bound either
// way: a Date that far off is not STS's clock.
func answerSkew(md middleware.Metadata, sent time.Time, bound time.Duration) (least, most time.Duration, ok bool) {
	date, ok := awsmiddleware.GetServerTime(md)
	if !ok {
		return 0, 0, false
	}
	responseAt, ok := awsmiddleware.GetResponseAt(md)
	if !ok {
		return 0, 0, false
	}
	least, most = date.Sub(responseAt), date.Add(time.Second).Sub(sent)
	if least <= 0 && most >= 0 || least > bound || most < -bound {
		return 0, 0, false
	}
	return least, most, true
}
