/* Issue 20: OpenSSL's side of scripts/compare-openssl-gost. OpenSSL's GOST engine
 * (libengine-gost-openssl) does not decode the NCA's own GOST key identifiers, so its certificates
 * cannot be read here; instead this makes a key on the same curve with the engine — GOST R 34.10-2001
 * paramset A (CryptoPro-A, the curve of GOST 34.310-2004) or GOST R 34.10-2012 512-bit paramset A
 * (TC26-512-A, the curve of GOST 34.10-2015) — signs a message of the given length once, then
 * verifies it (hash with GOST R 34.11-94 or Streebog-512, then verify) on one core for the given
 * seconds and prints verifications per second: the operation `qoljetim bench signatures` times on the
 * NCA's certificate and CRL.
 * Usage: verify-rate 2004|2015-512 MESSAGE_BYTES SECONDS */
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int fail(const char *what) {
  fprintf(stderr, "%s\n", what);
  ERR_print_errors_fp(stderr);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s 2004|2015-512 MESSAGE_BYTES SECONDS\n", argv[0]); return 2; }
  int is2004 = strcmp(argv[1], "2004") == 0;
  size_t len = (size_t)atol(argv[2]);
  double seconds = atof(argv[3]);
  ENGINE_load_builtin_engines();
  ENGINE *e = ENGINE_by_id("gost");
  if (!e || !ENGINE_init(e) || !ENGINE_set_default(e, ENGINE_METHOD_ALL)) return fail("the GOST engine does not load");
  ENGINE_register_all_complete();
  EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(is2004 ? NID_id_GostR3410_2001 : NID_id_GostR3410_2012_512, e);
  EVP_PKEY *key = NULL;
  if (!kctx || EVP_PKEY_keygen_init(kctx) <= 0 || EVP_PKEY_CTX_ctrl_str(kctx, "paramset", "A") <= 0 ||
      EVP_PKEY_keygen(kctx, &key) <= 0)
    return fail("key generation");
  const EVP_MD *md = EVP_get_digestbyname(is2004 ? "md_gost94" : "md_gost12_512");
  if (!md) return fail("digest");
  unsigned char *msg = malloc(len ? len : 1), sig[256];
  for (size_t i = 0; i < len; i++) msg[i] = (unsigned char)(i * 131 + 7);
  size_t siglen = sizeof sig;
  EVP_MD_CTX *mctx = EVP_MD_CTX_new();
  if (EVP_DigestSignInit(mctx, NULL, md, e, key) <= 0 || EVP_DigestSign(mctx, sig, &siglen, msg, len) <= 0)
    return fail("signing");
  double start = now();
  long n = 0;
  while (now() - start < seconds) {
    EVP_MD_CTX_reset(mctx);
    if (EVP_DigestVerifyInit(mctx, NULL, md, e, key) <= 0 || EVP_DigestVerify(mctx, sig, siglen, msg, len) != 1)
      return fail("a signature did not verify");
    n++;
  }
  printf("%.0f\n", n / (now() - start));
  return 0;
}
