# Documentation installed by `make install`: the man pages.  (The Markdown
# guides in doc/ ship in the tarball through EXTRA_DIST.)  Append-only: each
# page's owner adds its own line.
dist_man3_MANS = doc/dqlite-client.3
