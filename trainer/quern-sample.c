/*
 * quern-sample: generate text from a quern-train checkpoint.
 *
 * The prompt is encoded with the tokenizer (as ordinary text) after an
 * end-of-text token, which is how every training document starts, and
 * fed through the model one position at a time with a key/value cache
 * (qn_gpt_kv_*), so each new token costs one position's work.  Each next
 * token is drawn from the logits by temperature, top-k and top-p with a
 * seeded generator (trainer/sampling.h), so a seed gives the same text
 * every time.  Generation stops at the end-of-text token, after
 * --max-tokens, or at the end of the model's context.
 *
 * Tokens are decoded to bytes as they come; a token can end inside a
 * UTF-8 character, so the incomplete tail is held back until the next
 * token completes it (and written as it is at the end).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "buf.h"
#include "cli.h"
#include "err.h"
#include "manifest.h"
#include "../model/gpt.h"
#include "../tokenizer/tokenizer.h"
#include "checkpoint.h"
#include "sampling.h"

static void usage(void)
{
	printf("usage: quern-sample [-m DB] -c CKPT -t TOKENIZER [--prompt TEXT] [-n N]\n"
	       "                    [--temperature X] [--top-k N] [--top-p X] [--seed N]\n\n"
	       "Generates text from a quern-train checkpoint and writes it to stdout.\n\n"
	       "Options:\n"
	       "  -c, --checkpoint CKPT   the checkpoint\n"
	       "  -t, --tokenizer FILE    the tokenizer the model was trained with\n"
	       "  -p, --prompt TEXT       the text to continue (default: none)\n"
	       "  -n, --max-tokens N      generate at most N tokens (default 256)\n"
	       "      --temperature X     softmax temperature; 0 is greedy (default 1.0)\n"
	       "      --top-k N           sample among the N likeliest tokens (default 0: all)\n"
	       "      --top-p X           among the likeliest tokens holding X of the\n"
	       "                          probability (default 1.0: all)\n"
	       "      --seed N            the generator's seed (default 1337)\n"
	       "      --no-stop           go on past end-of-text tokens\n"
	       "      --echo              write the prompt before the continuation\n"
	       "  -j, --threads N         threads of the model (default 0: all cores)\n"
	       "  -m, --manifest DB       the manifest (default $QUERN_MANIFEST, else quern.db)\n"
	       "  -h, --help              this help\n"
	       "  -V, --version           the version\n\n"
	       "See quern-sample(1).\n");
}

/* errno of the first failed write to standard output, or 0. */
static int stdout_errno;

/* Writes what of out is complete and keeps the tail. */
static void emit(struct qn_buf *out, int final)
{
	size_t k = final ? out->len : qn_utf8_ready(qn_buf_str(out), out->len);

	if (k) {
		fwrite(out->data, 1, k, stdout);
		memmove(out->data, out->data + k, out->len - k);
		out->len -= k;
		out->data[out->len] = '\0';
	}
	if (fflush(stdout) == EOF && !stdout_errno)
		stdout_errno = errno ? errno : EIO;
}

static double real_arg(const char *name, const char *arg, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < 0 || v > max)
		qn_usage_error("invalid value '%s' for %s", arg, name);
	return v;
}

static uint64_t count_arg(const char *name, const char *arg)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-')
		qn_usage_error("invalid count '%s' for %s", arg, name);
	return v;
}

int main(int argc, char **argv)
{
	enum { O_TEMP = 256, O_TOPK, O_TOPP, O_SEED, O_NO_STOP, O_ECHO };
	static const struct option longopts[] = {
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "tokenizer", required_argument, NULL, 't' },
		{ "prompt", required_argument, NULL, 'p' },
		{ "max-tokens", required_argument, NULL, 'n' },
		{ "temperature", required_argument, NULL, O_TEMP },
		{ "top-k", required_argument, NULL, O_TOPK },
		{ "top-p", required_argument, NULL, O_TOPP },
		{ "seed", required_argument, NULL, O_SEED },
		{ "no-stop", no_argument, NULL, O_NO_STOP },
		{ "echo", no_argument, NULL, O_ECHO },
		{ "manifest", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *ckpt_path = NULL, *tok_path = NULL, *prompt = "", *mpath = NULL;
	struct qn_sample_opts so = { 1.0, 0, 1.0 };
	uint64_t max_tokens = 256, seed = 1337, ntok;
	int no_stop = 0, echo = 0, threads = 0, c, rc;
	struct qn_ckpt ck;
	struct qn_gpt *model = NULL;
	struct qn_gpt_kv *kv;
	struct qn_tok *tok;
	struct qn_tok_enc *enc;
	struct qn_ids ids = { NULL, 0, 0 };
	struct qn_sampler *sampler;
	struct qn_manifest *manifest;
	struct qn_config conf;
	struct qn_buf out = QN_BUF_INIT;
	struct qn_rng rng;
	struct qn_err err;
	float *logits;
	int64_t eot;
	size_t i;
	int n, vocab;
	char *failure = NULL, num[64];

	qn_cli_init(argc, argv);
	while ((c = getopt_long(argc, argv, "c:t:p:n:m:j:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': ckpt_path = optarg; break;
		case 't': tok_path = optarg; break;
		case 'p': prompt = optarg; break;
		case 'n': max_tokens = count_arg("--max-tokens", optarg); break;
		case O_TEMP: so.temperature = real_arg("--temperature", optarg, 1e6); break;
		case O_TOPK: so.top_k = (int)count_arg("--top-k", optarg); break;
		case O_TOPP:
			so.top_p = real_arg("--top-p", optarg, 1);
			if (so.top_p == 0)
				qn_usage_error("--top-p must be above 0");
			break;
		case O_SEED: seed = count_arg("--seed", optarg); break;
		case O_NO_STOP: no_stop = 1; break;
		case O_ECHO: echo = 1; break;
		case 'm': mpath = optarg; break;
		case 'j': threads = qn_parse_threads(optarg); break;
		case 'h': usage(); return qn_finish_stdout(QN_EXIT_OK);
		case 'V': qn_print_version();
		default: qn_usage_error("invalid option");
		}
	}
	if (!ckpt_path)
		qn_usage_error("no checkpoint given (-c CKPT)");
	if (!tok_path)
		qn_usage_error("no tokenizer given (-t TOKENIZER)");
	if (optind < argc)
		qn_usage_error("unexpected operand '%s'", argv[optind]);

	if (threads)
		omp_set_num_threads(threads);
	if (qn_ckpt_read(ckpt_path, &ck, &err) < 0)
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	if (qn_tok_load(tok_path, &tok, &err) < 0)
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	if (ck.tok_hash[0] && strcmp(ck.tok_hash, qn_tok_hash(tok)))
		qn_errx(QN_EXIT_FAIL, "%s: trained with tokenizer %s, but %s is %s",
			ckpt_path, ck.tok_hash, tok_path, qn_tok_hash(tok));
	if (qn_gpt_new(&model, &ck.cfg, 1, 1, QN_GPT_FAST, &err) < 0)
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	memcpy(model->params, ck.params, model->nparams * sizeof(float));
	vocab = ck.cfg.vocab < (int)qn_tok_vocab_size(tok) ? ck.cfg.vocab : (int)qn_tok_vocab_size(tok);
	eot = qn_tok_eot(tok);

	if (!(manifest = qn_manifest_open(qn_manifest_path(mpath), &err)))
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	qn_config_init(&conf);
	qn_config_str(&conf, "checkpoint", ckpt_path);
	qn_config_str(&conf, "tokenizer", tok_path);
	qn_config_str(&conf, "prompt", prompt);
	qn_config_int(&conf, "max_tokens", (int64_t)max_tokens);
	snprintf(num, sizeof num, "%.17g", so.temperature);
	qn_config_str(&conf, "temperature", num);
	qn_config_int(&conf, "top_k", so.top_k);
	snprintf(num, sizeof num, "%.17g", so.top_p);
	qn_config_str(&conf, "top_p", num);
	qn_config_int(&conf, "seed", (int64_t)seed);
	qn_config_bool(&conf, "stop_at_eot", !no_stop);
	rc = qn_manifest_run_begin(manifest, "quern-sample", qn_cli_argc, qn_cli_argv,
				   qn_config_json(&conf), &err);
	qn_config_release(&conf);
	if (rc < 0 || qn_manifest_file(manifest, ckpt_path, QN_INPUT, &err) < 0 ||
	    qn_manifest_file(manifest, tok_path, QN_INPUT, &err) < 0)
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);

	/* The prompt's tokens, after end-of-text. */
	enc = qn_tok_enc_new(tok);
	if (eot >= 0 && eot < ck.cfg.vocab) {
		qn_ids_reserve(&ids, 1);
		ids.v[ids.n++] = (uint32_t)eot;
	}
	if (qn_tok_encode(enc, prompt, strlen(prompt), &ids, &err) < 0)
		qn_errx(QN_EXIT_FAIL, "prompt: %s", err.msg);
	if (!ids.n)
		qn_errx(QN_EXIT_FAIL, "an empty prompt needs a tokenizer with <|endoftext|>");
	if (ids.n > (size_t)ck.cfg.max_seq)
		qn_errx(QN_EXIT_FAIL, "the prompt is %zu tokens, the model's context %d",
			ids.n, ck.cfg.max_seq);
	for (i = 0; i < ids.n; i++)
		if (ids.v[i] >= (uint32_t)ck.cfg.vocab)
			qn_errx(QN_EXIT_FAIL, "prompt token %u is outside the model's vocabulary (%d)",
				ids.v[i], ck.cfg.vocab);

	kv = qn_gpt_kv_new(model);
	logits = qn_xcalloc((size_t)ck.cfg.padded_vocab, sizeof *logits);
	sampler = qn_sampler_new(vocab);
	qn_rng_seed(&rng, seed);
	if (echo) {
		qn_buf_puts(&out, prompt);
		emit(&out, 0);
	}
	for (i = 0; i < ids.n && !failure; i++)
		if (qn_gpt_kv_step(model, kv, (int32_t)ids.v[i], logits, &err) < 0)
			failure = qn_xstrdup(err.msg);
	for (ntok = 0; !failure && ntok < max_tokens; ntok++) {
		n = qn_sample(sampler, logits, vocab, &so, &rng);
		if (n == eot && !no_stop)
			break;
		{
			uint32_t id = (uint32_t)n;

			if (qn_tok_decode(tok, &id, 1, &out, &err) < 0) {
				failure = qn_xstrdup(err.msg);
				break;
			}
		}
		emit(&out, 0);
		if (stdout_errno || ferror(stdout))
			break;
		if (ids.n + ntok >= (size_t)ck.cfg.max_seq) {
			ntok++;
			break;	/* the context is full */
		}
		if (qn_gpt_kv_step(model, kv, n, logits, &err) < 0)
			failure = qn_xstrdup(err.msg);
	}
	emit(&out, 1);
	putchar('\n');
	if (fflush(stdout) == EOF && !stdout_errno)
		stdout_errno = errno ? errno : EIO;
	/* The text is the output: a run that could not write it failed. */
	if (!failure && (stdout_errno || ferror(stdout)))
		failure = qn_xasprintf("write error on standard output: %s",
				       strerror(stdout_errno ? stdout_errno : EIO));
	qn_manifest_count(manifest, "tokens", (int64_t)ntok);
	if (failure) {
		qn_warnx("%s", failure);
		qn_manifest_run_end(manifest, 0, failure, NULL);
	} else if (qn_manifest_run_end(manifest, 1, NULL, &err) < 0) {
		failure = qn_xstrdup(err.msg);
		qn_warnx("%s", failure);
	}
	qn_manifest_close(manifest);
	qn_sampler_free(sampler);
	qn_gpt_kv_free(kv);
	free(logits);
	qn_ids_free(&ids);
	qn_tok_enc_free(enc);
	qn_tok_free(tok);
	qn_gpt_free(model);
	qn_ckpt_release(&ck);
	qn_buf_release(&out);
	rc = failure ? QN_EXIT_FAIL : QN_EXIT_OK;
	free(failure);
	/* A write error on standard output is reported once, above. */
	return stdout_errno || ferror(stdout) ? rc : qn_finish_stdout(rc);
}
