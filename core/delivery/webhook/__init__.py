"""The webhook toolkit: one signed POST (:mod:`.post`), Standard Webhooks signatures (:mod:`.signing`), the
SSRF guard on the dialled address (:mod:`.ssrf`) and the special-use address tables behind it (:mod:`.addresses`)."""
