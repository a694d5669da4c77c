"""Virtual time: scenario files, and running them through the real engine on a manual clock
(``tocsin simulate`` and ``tocsin test``)."""
