package clicache

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteEntryFailureLeavesNothing(t *testing.T) {
	d, err := OpenDir(t.TempDir())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	d.beforeRename = cancel // the caller gives up between write and rename
	err = d.WriteEntry(ctx, "k", entryJSON(nil))
	require.ErrorIs(t, err, context.Canceled)
	entries, err := os.ReadDir(d.Path())
	require.NoError(t, err)
	assert.Empty(t, entries, "neither the entry nor a temporary file")
}
