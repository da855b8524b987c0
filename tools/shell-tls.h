/* dqlc: what go-dqlite's shell reads from its TLS certificate. */
#ifndef DQLC_SHELL_TLS_H
#define DQLC_SHELL_TLS_H

/* The first DNS subjectAltName of the first certificate in the PEM file
 * (go-dqlite's shell sends it as the server name and verifies the nodes
 * against it).  malloc'd; NULL when there is none, the file cannot be read
 * or the build has no OpenSSL. */
char *shell_tls_first_dns_name(const char *pem_file);

#endif
