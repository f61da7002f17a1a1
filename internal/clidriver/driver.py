# The AWS CLI's own code, run once per request in one long-lived process:
# each line of standard input is a JSON request (env, args, mfa, sso_cache),
# each line of standard output the JSON result (rc, stdout, stderr,
# prompts). The service models are loaded once; everything else (the
# session, its config, its credential chain, the CLI's caches) is made
# anew for each request, from its environment alone.
import contextlib
import inspect
import io
import json
import os
import sys
import traceback

import botocore.credentials
import botocore.hooks
import botocore.loaders
import botocore.session
import botocore.tokens
from awscli import clidriver
from awscli.customizations import assumerole

# Importing awscli names its data (the CLI's own models) in AWS_DATA_PATH.
_data_path = os.environ.get("AWS_DATA_PATH", "")
_loader = botocore.loaders.create_loader(_data_path)
botocore.session.create_loader = lambda *args, **kwargs: _loader

# Two pure functions the CLI calls thousands of times while it registers
# its event handlers, memoized across runs (they are most of a run's
# time): whether a handler takes **kwargs, which depends on its function
# alone, and the aliasing of event names by the default alias table.
_accepts_kwargs = botocore.hooks.accepts_kwargs
_accepts_memo = {}


def _memo_accepts_kwargs(func):
    if inspect.isfunction(func):
        key = func
    elif inspect.ismethod(func) and inspect.isfunction(func.__func__):
        key = ("method", func.__func__)
    else:
        return _accepts_kwargs(func)
    if key not in _accepts_memo:
        _accepts_memo[key] = _accepts_kwargs(func)
    return _accepts_memo[key]


botocore.hooks.accepts_kwargs = _memo_accepts_kwargs

_aliaser_init = botocore.hooks.EventAliaser.__init__
_alias_cache = {}


def _shared_alias_cache(self, event_emitter, event_aliases=None):
    _aliaser_init(self, event_emitter, event_aliases)
    if event_aliases is None:
        self._alias_name_cache = _alias_cache


botocore.hooks.EventAliaser.__init__ = _shared_alias_cache

_state = {"codes": [], "prompts": 0, "sso_cache": False}


def _prompter(prompt):
    # The MFA prompt of AssumeRoleProvider (getpass by default).
    _state["prompts"] += 1
    if not _state["codes"]:
        raise EOFError("no MFA code left")
    return _state["codes"].pop(0)


_init = botocore.credentials.AssumeRoleProvider.__init__
_defaults = list(_init.__defaults__)
_defaults[0] = _prompter
_init.__defaults__ = tuple(_defaults)

_inject = assumerole.inject_assume_role_provider_cache


def _inject_with_sso(session, **kwargs):
    # The CLI v1 caches assume-role sessions in ~/.aws/cli/cache; v2 also
    # gives its SSO provider that cache. sso_cache asks for v2's wiring.
    _inject(session, **kwargs)
    if _state["sso_cache"]:
        chain = session.get_component("credential_provider")
        chain.get_provider("sso").cache = botocore.credentials.JSONFileCache(assumerole.CACHE_DIR)


assumerole.inject_assume_role_provider_cache = _inject_with_sso


def run(req):
    os.environ.clear()
    os.environ.update(req["env"])
    os.environ["AWS_DATA_PATH"] = _data_path
    home = req["env"]["HOME"]
    sso_dir = os.path.join(home, ".aws", "sso", "cache")
    botocore.credentials.SSOProvider._SSO_TOKEN_CACHE_DIR = sso_dir
    botocore.tokens.SSOTokenProvider._SSO_TOKEN_CACHE_DIR = sso_dir
    assumerole.CACHE_DIR = os.path.join(home, ".aws", "cli", "cache")
    _state.update(codes=list(req.get("mfa") or []), prompts=0, sso_cache=bool(req.get("sso_cache")))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = clidriver.create_clidriver().main(req["args"])
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except BaseException:
            traceback.print_exc()
            rc = 255
    return {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue(), "prompts": _state["prompts"]}


def main():
    for line in sys.stdin:
        sys.__stdout__.write(json.dumps(run(json.loads(line))) + "\n")
        sys.__stdout__.flush()


if __name__ == "__main__":
    main()
