/* dqlc: the server name go-dqlite's shell takes from its certificate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shell-tls.h"

#ifdef DQLC_HAVE_OPENSSL
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

char *shell_tls_first_dns_name(const char *pem_file)
{
	GENERAL_NAMES *names;
	X509 *x;
	char *out = NULL;
	FILE *f = fopen(pem_file, "r");
	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return NULL;
	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && out == NULL; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type == GEN_DNS) {
			const unsigned char *p = ASN1_STRING_get0_data(g->d.dNSName);
			int n = ASN1_STRING_length(g->d.dNSName);
			if (p != NULL && n > 0 && memchr(p, '\0', (size_t)n) == NULL &&
			    (out = malloc((size_t)n + 1)) != NULL) {
				memcpy(out, p, (size_t)n);
				out[n] = '\0';
			}
		}
	}
	GENERAL_NAMES_free(names);
	X509_free(x);
	return out;
}
#else
char *shell_tls_first_dns_name(const char *pem_file)
{
	(void)pem_file;
	return NULL;
}
#endif
