package awsprofile

import (
	"fmt"
	"maps"
	"slices"
)

// Profiles returns the names of the profiles in the files that
// [LoadChain] reads with the same options, sorted: the [profile NAME] and
// [default] sections of the config files and the [NAME] sections of the
// credentials files, read as the AWS CLI reads them. It builds no chain
// and makes no call.
func Profiles(optFns ...func(*Options)) ([]string, error) {
	l := &loader{}
	for _, fn := range optFns {
		if fn != nil {
			fn(&l.o)
		}
	}
	if err := l.setup(); err != nil {
		return nil, err
	}
	if err := l.readFiles(); err != nil {
		return nil, fmt.Errorf("awsprofile: %w", err)
	}
	return slices.Sorted(maps.Keys(l.files.profiles)), nil
}
