"""A browser session for the dashboard tests: chromium through Playwright with an injected
EIP-1193 wallet (``window.ethereum``) whose ``personal_sign`` calls back into Python, where
eth_account signs with a test participant's key. Every request is recorded (none may leave
loopback) and so are the console's Content-Security-Policy reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

LOOPBACK = {"127.0.0.1", "localhost", "::1"}

#: the wallet a page sees: accounts and personal_sign, both answered by the Python side
WALLET_JS = """
(() => {
  const address = %(address)r;
  window.ethereum = {
    isTradenetTestWallet: true,
    request: async ({method, params}) => {
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [address];
      if (method === "eth_chainId") return "0x7a69";
      if (method === "personal_sign") return await window.tradenetWalletSign(params[0], params[1]);
      const err = new Error("unsupported method " + method); err.code = 4200; throw err;
    },
  };
})();
"""


def personal_sign(key: LocalAccount, data_hex: str) -> str:
    """EIP-191 signature of the UTF-8 bytes a dApp passes to ``personal_sign`` (0x-hex)."""
    raw = bytes.fromhex(data_hex[2:] if data_hex.startswith("0x") else data_hex)
    return "0x" + bytes(Account.sign_message(encode_defunct(primitive=raw), key.key).signature).hex()


@dataclass
class Browser:
    chromium: Any
    base_url: str
    keys: dict[str, LocalAccount]
    screenshots: Path
    requests: list[str] = field(default_factory=list)
    csp_reports: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def page(self, who: str | None = None, *, signer: LocalAccount | None = None, width: int = 1280,
             height: int = 900, wallet: bool = True) -> Any:
        """A page in a fresh context; with `who`, a wallet holding that participant's account that
        signs with `signer` (default: the same key, so a different `signer` forges the signature)."""
        ctx = self.chromium.new_context(base_url=self.base_url, viewport={"width": width, "height": height},
                                        service_workers="block")
        self.contexts.append(ctx)
        ctx.on("request", lambda req: self.requests.append(req.url))
        if who is not None and wallet:
            account = self.keys[who]
            key = signer or account
            ctx.expose_function("tradenetWalletSign", lambda data, _address: personal_sign(key, data))
            ctx.add_init_script(WALLET_JS % {"address": account.address})
        page = ctx.new_page()
        page.on("console", lambda m: self.csp_reports.append(m.text) if "Content Security Policy" in m.text else None)
        return page

    def login(self, who: str, **kw: Any) -> Any:
        """Logs `who` in through the wallet button and waits for the overview."""
        page = self.page(who, **kw)
        page.goto("/login")
        page.click("#wallet-login")
        page.wait_for_url(self.base_url + "/")
        page.wait_for_selector("#identity")
        return page

    def shot(self, page: Any, name: str) -> Path:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()

    def assert_clean(self) -> None:
        outside = [u for u in self.requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                   and urlsplit(u).hostname not in LOOPBACK]
        assert not outside, f"requests left loopback: {outside}"
        assert all(urlsplit(u).scheme in ("http", "data", "blob") for u in self.requests), self.requests
        assert not self.csp_reports, self.csp_reports
