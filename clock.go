package stschain

import (
	"context"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go/middleware"
)

// STS's clock against the host's. An Expiration is a moment on STS's
// clock; a host whose clock is behind would hand out credentials STS has
// already expired, and one ahead by more than a session would find every
// answer expired on arrival. Each answer's Date header says what time STS
// had, as the SDK's retryer reads it to correct a skewed signing time
// (aws/middleware.RecordResponseTiming): the link moves the Expiration
// onto the host's clock, so that everything after it (the schedule, the
// checks, the credentials handed out, the cache) runs on the host's
// clock.

// skewCorrected is an STSClient whose answers' Expiration is on the
// host's clock.
type skewCorrected struct{ STSClient }

func (c skewCorrected) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	sent := time.Now()
	out, err := c.STSClient.AssumeRole(ctx, in, optFns...)
	if err == nil && out != nil {
		toHostClock(out.Credentials, out.ResultMetadata, sent)
	}
	return out, err
}

func (c skewCorrected) GetSessionToken(ctx context.Context, in *sts.GetSessionTokenInput, optFns ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) {
	sent := time.Now()
	out, err := c.STSClient.GetSessionToken(ctx, in, optFns...)
	if err == nil && out != nil {
		toHostClock(out.Credentials, out.ResultMetadata, sent)
	}
	return out, err
}

// toHostClock moves c's Expiration onto the host's clock when the answer
// (its metadata md, for a request sent at sent) shows that STS's clock
// differs from it.
//
// The Date header has whole seconds, and STS wrote it some time between
// sent and the answer's arrival (responseAt): the skew (STS's clock minus
// the host's) lies between Date - responseAt and Date + 1s - sent. When
// that span holds zero the clocks agree as far as the answer can tell,
// and nothing moves (the expiry window absorbs the rest); otherwise the
// Expiration moves by the span's upper end, the skew that expires the
// credentials earliest, so that no correction ever has them used past
// their real expiry.
func toHostClock(c *types.Credentials, md middleware.Metadata, sent time.Time) {
	if c == nil || c.Expiration == nil {
		return
	}
	date, ok := awsmiddleware.GetServerTime(md)
	if !ok {
		return
	}
	responseAt, ok := awsmiddleware.GetResponseAt(md)
	if !ok {
		return
	}
	least, most := date.Sub(responseAt), date.Add(time.Second).Sub(sent)
	if least <= 0 && most >= 0 {
		return
	}
	corrected := c.Expiration.Add(-most)
	c.Expiration = &corrected
}
