"""The webhook toolkit: one signed POST (:mod:`.post`), Standard Webhooks signatures (:mod:`.signing`), the
SSRF policy (:mod:`.ssrf`), its checks on the resolved and the dialled address (:mod:`.connector`, aiohttp's
side) and the special-use address tables behind it (:mod:`.addresses`)."""
