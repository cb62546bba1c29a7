"""labelctl: the organiser's command line; talks only to the gateway's HTTP API (API.md)."""
