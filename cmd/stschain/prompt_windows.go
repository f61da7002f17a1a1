package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/mfacode"
)

// terminalPrompt asks on the console, CONIN$ and CONOUT$, which reach the
// user even when standard input and output are pipes (a credential_process
// run by the AWS CLI); without a console, on standard error and standard
// input.
func terminalPrompt() stschain.TokenCodeFunc {
	var mu sync.Mutex // one prompt at a time
	return func(ctx context.Context, serial string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		in, err := os.OpenFile("CONIN$", os.O_RDWR, 0)
		if err != nil {
			return mfacode.Ask(ctx, os.Stdin, os.Stderr, quote(serial), "")
		}
		defer in.Close() // also ends a read that ctx abandoned
		out, err := openTerminalOut()
		if err != nil {
			return mfacode.Ask(ctx, in, os.Stderr, quote(serial), "")
		}
		defer out.Close()
		return mfacode.Ask(ctx, in, out, quote(serial), "")
	}
}

// openTerminalOut opens the console for writing.
func openTerminalOut() (*os.File, error) { return os.OpenFile("CONOUT$", os.O_WRONLY, 0) }

// CredUIPromptForCredentialsW's flags.
const (
	creduiFlagsAlwaysShowUI      = 0x00080
	creduiFlagsGenericCredential = 0x40000
	creduiFlagsKeepUsername      = 0x100000
)

// creduiInfo is CREDUI_INFOW.
type creduiInfo struct {
	size    uint32
	parent  uintptr
	message *uint16
	caption *uint16
	banner  uintptr
}

// wincredPrompt asks in the Windows credentials dialog, as aws-vault's
// wincredui prompt does: the device (account and user) as the user name,
// the code as the password.
func wincredPrompt() (stschain.TokenCodeFunc, error) {
	proc := windows.NewLazySystemDLL("credui.dll").NewProc("CredUIPromptForCredentialsW")
	if err := proc.Find(); err != nil {
		return nil, fmt.Errorf("the wincred prompt: %w", err)
	}
	var mu sync.Mutex // one dialog at a time
	return func(ctx context.Context, serial string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("the wincred prompt for the MFA code of %s: %w", quote(serial), err)
		}
		caption, _ := windows.UTF16PtrFromString("stschain")
		message, _ := windows.UTF16PtrFromString(promptText(serial))
		target, _ := windows.UTF16PtrFromString("stschain")
		short := strings.TrimPrefix(strings.Replace(serial, ":mfa", "", 1), "arn:aws:iam::")
		user := make([]uint16, 514)
		copy(user, windows.StringToUTF16(short))
		password := make([]uint16, 64)
		info := creduiInfo{parent: 0, message: message, caption: caption}
		info.size = uint32(unsafe.Sizeof(info))
		var save int32
		ret, _, _ := proc.Call(
			uintptr(unsafe.Pointer(&info)),
			uintptr(unsafe.Pointer(target)),
			0, 0,
			uintptr(unsafe.Pointer(&user[0])), uintptr(len(user)),
			uintptr(unsafe.Pointer(&password[0])), uintptr(len(password)),
			uintptr(unsafe.Pointer(&save)),
			creduiFlagsAlwaysShowUI|creduiFlagsGenericCredential|creduiFlagsKeepUsername,
		)
		code := strings.TrimSpace(windows.UTF16ToString(password))
		clear(password)
		switch {
		case ret != 0:
			return "", fmt.Errorf("the wincred prompt for the MFA code of %s was cancelled or failed", quote(serial))
		case !mfacode.Valid(code):
			return "", fmt.Errorf("the wincred prompt gave no 6-digit code for %s", quote(serial))
		}
		return code, nil
	}, nil
}
