/*
 * quern-train: train a GPT-2 model on token shards, on the CPU or, when
 * built with CUDA (QN_WITH_CUDA), on one NVIDIA GPU.
 *
 * The data is a shard directory written by quern-shard, or a tagged
 * snapshot (--snapshot TAG): the tag's files are hashed again and must
 * all match the manifest before the first step, and exactly the tag's
 * shard files are opened.  Each optimizer step accumulates the gradient
 * of total_batch / (B*T) micro-batches, averages it, clips its global
 * norm, and takes one AdamW step with decoupled weight decay on the
 * tensors qn_gpt_param_decays names, at the rate of a warmup + cosine
 * schedule.
 *
 * Everything a step computes depends only on the checkpointed state
 * (weights, moments, step, loader position, RNG), so a run stopped and
 * resumed (--resume) continues bit for bit: the same losses and the same
 * weight bytes as a run that never stopped, whatever the number of
 * threads of either (the fast path cuts its work in the same pieces for
 * any count, model/ops_fast.c).  Checkpoints are
 * written atomically every --ckpt-every steps, at the end, at --stop-at,
 * and on SIGINT/SIGTERM/SIGHUP, which end the run after the current
 * step.
 *
 * The manifest gets the run, its training row (tag, tokenizer hash,
 * configuration, seed), the shard files as inputs, per-step metrics
 * (loss, lr, grad_norm, tokens_per_s, val_loss) and each checkpoint as
 * an output, so quern-manifest lineage CKPT leads back to the sources.
 *
 * On the GPU (--device cuda; auto picks it when built with CUDA and a
 * device is present) the host model keeps only the weights (it is made
 * for a 1 x 1 batch): it is initialised, loaded from llm.c's file or from
 * the checkpoint as on the CPU, then copied to the device model
 * (model/cuda/gpt_cuda.h), which takes the same steps with the same
 * hyperparameters and schedule in mixed precision.  Checkpoints get the
 * fp32 master weights and AdamW moments back from the device in the same
 * layout, so a run moves between CPU and GPU through its checkpoint.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <omp.h>

#include "cli.h"
#include "err.h"
#include "manifest.h"
#include "../model/gpt.h"
#include "../model/ops.h"
#include "../datasets/loader.h"
#include "checkpoint.h"
#include "schedule.h"
#ifdef QN_WITH_CUDA
#include "../model/cuda/gpt_cuda.h"
#endif

static struct {
	const char *manifest, *output, *snapshot, *resume, *device;
	const char *init_llmc, *export_llmc, *data_dir;
	int quiet, ref, threads;
	uint64_t val_every, val_batches, ckpt_every, stop_at;
} opt;

/* Which model/optimisation options were given (refused with --resume). */
static int given_model, given_train;

static struct qn_manifest *manifest;
static char *failure;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	if (failure)
		return;
	va_start(ap, fmt);
	if (vasprintf(&failure, fmt, ap) < 0)
		failure = qn_xstrdup("out of memory");
	va_end(ap);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the data ---- */

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && !strcmp(s + n - m, suf);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* The shard files of one split among paths: SPLIT_*.bin, in the given order. */
static char **split_files(char **paths, size_t n, enum qn_split split, size_t *out_n)
{
	const char *pre = split == QN_SPLIT_VAL ? "val_" : "train_";
	char **v = qn_xcalloc(n + 1, sizeof *v);
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (!strncmp(base_name(paths[i]), pre, strlen(pre)) && has_suffix(paths[i], ".bin"))
			v[k++] = paths[i];
	*out_n = k;
	return v;
}

struct taglist {
	char **paths;
	size_t n;
	int bad;
};

static int tag_row(void *ctx, const struct qn_row *row)
{
	struct taglist *t = ctx;
	const char *status = row->values[0], *path = row->values[1];

	if (strcmp(status, "ok")) {
		qn_warnx("%s: %s since it was tagged", path, status);
		t->bad++;
	}
	t->paths = qn_xrealloc(t->paths, (t->n + 1) * sizeof *t->paths);
	t->paths[t->n++] = qn_xstrdup(path);
	return 0;
}

/* Every regular file of a shard directory that belongs to the data. */
static void dir_files(const char *dir, struct taglist *t)
{
	struct dirent **ents;
	int n, i;

	n = scandir(dir, &ents, NULL, alphasort);
	for (i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;

		if (has_suffix(nm, ".bin") || has_suffix(nm, ".qidx") || !strcmp(nm, "shards.meta")) {
			t->paths = qn_xrealloc(t->paths, (t->n + 1) * sizeof *t->paths);
			t->paths[t->n++] = qn_xasprintf("%s/%s", dir, nm);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

static void taglist_free(struct taglist *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->paths[i]);
	free(t->paths);
}

/* Opens one split; QN_ENOTFOUND when it has no shard. */
static int open_split(struct taglist *files, enum qn_split split,
		      struct qn_shardset **out, struct qn_err *err)
{
	size_t n;
	char **v;
	int rc;

	if (!opt.snapshot)
		return qn_shardset_open(opt.data_dir, split, out, err);
	v = split_files(files->paths, files->n, split, &n);
	rc = qn_shardset_open_files((const char *const *)v, n, split, out, err);
	free(v);
	return rc;
}

/* ---- options ---- */

static void usage(void)
{
	printf("usage: quern-train [-m DB] -o DIR [-q] [options] (SHARD_DIR | --snapshot TAG)\n"
	       "       quern-train [-m DB] -o DIR --resume CKPT (SHARD_DIR | --snapshot TAG)\n\n"
	       "Trains a GPT-2 model on token shards and writes checkpoints to DIR.\n\n"
	       "Data and output:\n"
	       "  -o, --output DIR        checkpoint directory (made if missing)\n"
	       "      --snapshot TAG      train on the shard files of a manifest tag, after\n"
	       "                          checking that none changed\n"
	       "  -m, --manifest DB       the manifest (default $QUERN_MANIFEST, else quern.db)\n"
	       "  -q, --quiet             no per-step lines\n"
	       "  -j, --threads N         threads of the fast path (default 0: all cores)\n"
	       "Model (ignored with --resume and --init-from-llmc):\n"
	       "      --layers N          transformer blocks (default 4)\n"
	       "      --heads N           attention heads (default 4)\n"
	       "      --width N           channels, a multiple of --heads (default 128)\n"
	       "      --context N         context length (default -T)\n"
	       "      --init-from-llmc F  start from llm.c's model file F\n"
	       "Optimisation:\n"
	       "  -B, --batch N           sequences per micro-batch (default 4)\n"
	       "  -T, --seq-len N         tokens per sequence (default 64)\n"
	       "      --batch-tokens N    tokens per step, a multiple of B*T (default B*T)\n"
	       "      --steps N           optimizer steps (default 100)\n"
	       "      --lr X              peak learning rate (default 6e-4)\n"
	       "      --warmup N          linear warmup steps (default 10, at most --steps)\n"
	       "      --min-lr X          final learning rate (default lr/10)\n"
	       "      --weight-decay X    decoupled, matrices and embeddings (default 0.1)\n"
	       "      --grad-clip X       global gradient norm bound, 0 none (default 1.0)\n"
	       "      --seed N            initialisation and data order (default 1337)\n"
	       "      --no-shuffle        read windows in order instead of a seeded order\n"
	       "      --doc-aligned       start every window at a document\n"
	       "Schedule of this run:\n"
	       "      --val-every N       validation loss every N steps (default 100; 0 never)\n"
	       "      --val-batches N     micro-batches per validation (default 20)\n"
	       "      --ckpt-every N      checkpoint every N steps (default 0: only at the end)\n"
	       "      --stop-at N         stop after step N with a checkpoint\n"
	       "      --resume CKPT       continue the run of CKPT bit for bit\n"
	       "      --export-llmc F     also write the final weights as llm.c's model file\n"
	       "      --device D          auto (default: cuda if built with it and a GPU\n"
	       "                          is present, else cpu), cpu or cuda\n"
	       "      --reference         the plain reference ops instead of the fast path\n"
	       "  -h, --help              this help\n"
	       "  -V, --version           the version\n\n"
	       "See quern-train(1).\n");
}

static uint64_t count_arg(const char *name, const char *arg, uint64_t min)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min)
		qn_usage_error("invalid count '%s' for %s", arg, name);
	return v;
}

static int int_arg(const char *name, const char *arg)
{
	uint64_t v = count_arg(name, arg, 1);

	if (v > (1u << 24))
		qn_usage_error("%s %s is too large", name, arg);
	return (int)v;
}

static double real_arg(const char *name, const char *arg)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < 0)
		qn_usage_error("invalid value '%s' for %s", arg, name);
	return v;
}

/* ---- training ---- */

struct trainer {
	struct qn_gpt *model;		/* on the GPU: the host copy of the weights */
#ifdef QN_WITH_CUDA
	struct qn_gpt_cuda *gpu;	/* NULL: the CPU trains */
#endif
	struct qn_ckpt st;		/* the state: options, step, moments, ... */
	struct qn_loader *train, *val;
	struct qn_rng rng;
	int32_t *inp, *tgt;
	double (*norm)(const float *, size_t);
	int ref;			/* the reference ops (--reference) */
};

/*
 * On the GPU: copies the fp32 master weights and the moments back into
 * the host model and the state.  Returns 0, or -1 after fail().
 */
static int sync_host(struct trainer *tr)
{
#ifdef QN_WITH_CUDA
	struct qn_err err;

	if (tr->gpu && qn_gpt_cuda_get(tr->gpu, tr->model->params, tr->st.m, tr->st.v,
				       &err) < 0) {
		fail("%s", err.msg);
		return -1;
	}
#else
	(void)tr;
#endif
	return 0;
}

/*
 * Writes DIR/step-NNNNNN.ckpt and records it, the metrics before it too
 * (so a run killed later keeps them); returns its path or NULL after
 * fail(), which names prev, the last good checkpoint (NULL: none), to
 * resume from.
 */
static char *save_checkpoint(struct trainer *tr, const char *prev)
{
	struct qn_err err;
	char *path;
	int rc;

	if (sync_host(tr) < 0)
		return NULL;
	path = qn_xasprintf("%s/step-%06llu.ckpt", opt.output, (unsigned long long)tr->st.step);
	tr->st.params = tr->model->params;
	qn_loader_get_state(tr->train, &tr->st.loader);
	memcpy(tr->st.rng, tr->rng.s, sizeof tr->st.rng);
	rc = qn_ckpt_write(path, &tr->st, &err);
	tr->st.params = NULL;	/* the model's: never freed with the state */
	if (rc < 0 || qn_manifest_checkpoint(manifest, (int64_t)tr->st.step, path, &err) < 0 ||
	    qn_manifest_flush(manifest, &err) < 0) {
		if (prev)
			fail("%s; the last checkpoint is %s (resume with --resume %s)", err.msg,
			     prev, prev);
		else
			fail("%s", err.msg);
		free(path);
		return NULL;
	}
	if (!opt.quiet)
		fprintf(stderr, "%s: step %llu: wrote %s\n", qn_progname,
			(unsigned long long)tr->st.step, path);
	return path;
}

static double validate(struct trainer *tr)
{
	const struct qn_train_opts *o = &tr->st.train;
	uint64_t n = qn_loader_batches(tr->val), i;
	struct qn_err err;
	double sum = 0;

	if (opt.val_batches && opt.val_batches < n)
		n = opt.val_batches;
	qn_loader_reset(tr->val);
	for (i = 0; i < n; i++) {
		if (qn_loader_next(tr->val, tr->inp, tr->tgt, &err) < 0) {
			fail("validation: %s", err.msg);
			return NAN;
		}
#ifdef QN_WITH_CUDA
		if (tr->gpu) {
			float l;

			if (qn_gpt_cuda_forward(tr->gpu, tr->inp, tr->tgt, o->B, o->T, &l, &err) < 0) {
				fail("validation: %s", err.msg);
				return NAN;
			}
			sum += l;
			continue;
		}
#endif
		sum += qn_gpt_forward(tr->model, tr->inp, tr->tgt, o->B, o->T);
	}
	return n ? sum / (double)n : NAN;
}

/* One optimizer step; returns 0, or -1 after fail(). */
static int train_step(struct trainer *tr, uint64_t accum)
{
	const struct qn_train_opts *o = &tr->st.train;
	struct qn_gpt *m = tr->model;
	double t0 = now(), loss = 0, norm, lr, dt;
	struct qn_err err;
	uint64_t a, step = tr->st.step;
	size_t off = 0;
	float gscale = 1.0f;
	int p;

#ifdef QN_WITH_CUDA
	if (tr->gpu) {
		struct qn_adamw_hp hp;
		float l, gn;

		if (qn_gpt_cuda_zero_grad(tr->gpu, &err) < 0)
			goto cuda_fail;
		for (a = 0; a < accum; a++) {
			if (qn_loader_next(tr->train, tr->inp, tr->tgt, &err) < 0) {
				fail("%s", err.msg);
				return -1;
			}
			if (qn_gpt_cuda_forward(tr->gpu, tr->inp, tr->tgt, o->B, o->T, &l, &err) < 0 ||
			    qn_gpt_cuda_backward(tr->gpu, &err) < 0)
				goto cuda_fail;
			loss += l;
		}
		loss /= (double)accum;
		lr = qn_lr_at(o, step);
		hp.lr = (float)lr;
		hp.beta1 = (float)o->beta1;
		hp.beta2 = (float)o->beta2;
		hp.eps = (float)o->eps;
		hp.weight_decay = (float)o->weight_decay;
		hp.grad_clip = (float)o->grad_clip;
		if (qn_gpt_cuda_step(tr->gpu, &hp, (int)(step + 1), (int)accum, &gn, &err) < 0)
			goto cuda_fail;
		norm = gn;
		goto stepped;
cuda_fail:
		fail("step %llu: %s", (unsigned long long)(step + 1), err.msg);
		return -1;
	}
#endif
	qn_gpt_zero_grad(m);
	for (a = 0; a < accum; a++) {
		if (qn_loader_next(tr->train, tr->inp, tr->tgt, &err) < 0) {
			fail("%s", err.msg);
			return -1;
		}
		loss += qn_gpt_forward(m, tr->inp, tr->tgt, o->B, o->T);
		qn_gpt_backward(m);
	}
	loss /= (double)accum;
	/* the fast AdamW clips as it reads the gradient: no pass of its own */
	if (tr->ref)
		norm = qn_grad_finish(m->grads, m->nparams, accum, o->grad_clip, tr->norm);
	else
		norm = qn_grad_norm(m->grads, m->nparams, accum, o->grad_clip, tr->norm, &gscale);
	lr = qn_lr_at(o, step);
	for (p = 0; p < QN_NPARAM; p++) {
		size_t n = m->param_size[p];
		float wd = qn_gpt_param_decays((enum qn_gpt_param)p) ? (float)o->weight_decay : 0.0f;

		if (tr->ref)
			qn_ref_adamw(m->params + off, m->grads + off, tr->st.m + off, tr->st.v + off,
				     n, (float)lr, (float)o->beta1, (float)o->beta2, (float)o->eps,
				     wd, (int)(step + 1));
		else
			qn_fast_adamw_scaled(m->params + off, m->grads + off, tr->st.m + off,
					     tr->st.v + off, n, gscale, (float)lr, (float)o->beta1,
					     (float)o->beta2, (float)o->eps, wd, (int)(step + 1));
		off += n;
	}
#ifdef QN_WITH_CUDA
stepped:
#endif
	tr->st.step++;
	dt = now() - t0;
	if (qn_manifest_metric(manifest, (int64_t)tr->st.step, "loss", loss, &err) < 0 ||
	    qn_manifest_metric(manifest, (int64_t)tr->st.step, "lr", lr, &err) < 0 ||
	    qn_manifest_metric(manifest, (int64_t)tr->st.step, "grad_norm", norm, &err) < 0 ||
	    qn_manifest_metric(manifest, (int64_t)tr->st.step, "tokens_per_s",
			       (double)o->total_batch / dt, &err) < 0) {
		fail("%s", err.msg);
		return -1;
	}
	if (!opt.quiet)
		printf("step %llu/%llu: loss %.6f lr %.4e norm %.4f %.0f ms %.0f tok/s\n",
		       (unsigned long long)tr->st.step, (unsigned long long)o->steps, loss,
		       lr, norm, dt * 1e3, (double)o->total_batch / dt);
	fflush(stdout);	/* a line a step, also into a pipe */
	if (!isfinite(loss)) {
		fail("step %llu: the loss is not finite", (unsigned long long)tr->st.step);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		O_SNAPSHOT = 256, O_LAYERS, O_HEADS, O_WIDTH, O_CONTEXT, O_BATCH_TOKENS,
		O_STEPS, O_LR, O_WARMUP, O_MIN_LR, O_WD, O_CLIP, O_SEED, O_NO_SHUFFLE,
		O_DOC_ALIGNED, O_VAL_EVERY, O_VAL_BATCHES, O_CKPT_EVERY, O_STOP_AT,
		O_RESUME, O_INIT_LLMC, O_EXPORT_LLMC, O_DEVICE, O_REF
	};
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "threads", required_argument, NULL, 'j' },
		{ "snapshot", required_argument, NULL, O_SNAPSHOT },
		{ "layers", required_argument, NULL, O_LAYERS },
		{ "heads", required_argument, NULL, O_HEADS },
		{ "width", required_argument, NULL, O_WIDTH },
		{ "context", required_argument, NULL, O_CONTEXT },
		{ "batch", required_argument, NULL, 'B' },
		{ "seq-len", required_argument, NULL, 'T' },
		{ "batch-tokens", required_argument, NULL, O_BATCH_TOKENS },
		{ "steps", required_argument, NULL, O_STEPS },
		{ "lr", required_argument, NULL, O_LR },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "min-lr", required_argument, NULL, O_MIN_LR },
		{ "weight-decay", required_argument, NULL, O_WD },
		{ "grad-clip", required_argument, NULL, O_CLIP },
		{ "seed", required_argument, NULL, O_SEED },
		{ "no-shuffle", no_argument, NULL, O_NO_SHUFFLE },
		{ "doc-aligned", no_argument, NULL, O_DOC_ALIGNED },
		{ "val-every", required_argument, NULL, O_VAL_EVERY },
		{ "val-batches", required_argument, NULL, O_VAL_BATCHES },
		{ "ckpt-every", required_argument, NULL, O_CKPT_EVERY },
		{ "stop-at", required_argument, NULL, O_STOP_AT },
		{ "resume", required_argument, NULL, O_RESUME },
		{ "init-from-llmc", required_argument, NULL, O_INIT_LLMC },
		{ "export-llmc", required_argument, NULL, O_EXPORT_LLMC },
		{ "device", required_argument, NULL, O_DEVICE },
		{ "reference", no_argument, NULL, O_REF },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct qn_gpt_config cfg = { 0, 0, 0, 4, 4, 128 };
	struct qn_train_opts o = { .B = 4, .T = 64, .steps = 100, .warmup = 10,
				   .lr = 6e-4, .min_lr = -1, .weight_decay = 0.1,
				   .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8,
				   .grad_clip = 1.0, .seed = 1337, .shuffle = 1 };
	int warmup_given = 0, steps_given = 0, on_gpu, c;
	struct qn_shardset *train_set = NULL, *val_set = NULL;
	struct qn_shardset_info info;
	struct qn_loader_opts lo;
	struct taglist files = { NULL, 0, 0 };
	struct trainer tr;
	struct qn_config conf;
	struct qn_err err;
	uint64_t accum = 0, end_step, saved_step = UINT64_MAX;
	char *last_ckpt = NULL, *config_json = NULL;
	float *llmc_params = NULL;
	size_t i;
	int rc;

	qn_cli_init(argc, argv);
	qn_catch_signals();
	opt.val_every = 100;
	opt.val_batches = 20;
	opt.device = "auto";
	while ((c = getopt_long(argc, argv, "o:m:qj:B:T:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': opt.output = optarg; break;
		case 'm': opt.manifest = optarg; break;
		case 'q': opt.quiet = 1; break;
		case 'j': opt.threads = qn_parse_threads(optarg); break;
		case O_SNAPSHOT: opt.snapshot = optarg; break;
		case O_LAYERS: cfg.n_layer = int_arg("--layers", optarg); given_model = 1; break;
		case O_HEADS: cfg.n_head = int_arg("--heads", optarg); given_model = 1; break;
		case O_WIDTH: cfg.channels = int_arg("--width", optarg); given_model = 1; break;
		case O_CONTEXT: cfg.max_seq = int_arg("--context", optarg); given_model = 1; break;
		case 'B': o.B = int_arg("-B", optarg); given_train = 1; break;
		case 'T': o.T = int_arg("-T", optarg); given_train = 1; break;
		case O_BATCH_TOKENS: o.total_batch = count_arg("--batch-tokens", optarg, 1); given_train = 1; break;
		case O_STEPS: o.steps = count_arg("--steps", optarg, 1); steps_given = 1; break;
		case O_LR: o.lr = real_arg("--lr", optarg); given_train = 1; break;
		case O_WARMUP: o.warmup = count_arg("--warmup", optarg, 0); warmup_given = 1; given_train = 1; break;
		case O_MIN_LR: o.min_lr = real_arg("--min-lr", optarg); given_train = 1; break;
		case O_WD: o.weight_decay = real_arg("--weight-decay", optarg); given_train = 1; break;
		case O_CLIP: o.grad_clip = real_arg("--grad-clip", optarg); given_train = 1; break;
		case O_SEED: o.seed = count_arg("--seed", optarg, 0); given_train = 1; break;
		case O_NO_SHUFFLE: o.shuffle = 0; given_train = 1; break;
		case O_DOC_ALIGNED: o.doc_aligned = 1; given_train = 1; break;
		case O_VAL_EVERY: opt.val_every = count_arg("--val-every", optarg, 0); break;
		case O_VAL_BATCHES: opt.val_batches = count_arg("--val-batches", optarg, 1); break;
		case O_CKPT_EVERY: opt.ckpt_every = count_arg("--ckpt-every", optarg, 0); break;
		case O_STOP_AT: opt.stop_at = count_arg("--stop-at", optarg, 1); break;
		case O_RESUME: opt.resume = optarg; break;
		case O_INIT_LLMC: opt.init_llmc = optarg; break;
		case O_EXPORT_LLMC: opt.export_llmc = optarg; break;
		case O_DEVICE: opt.device = optarg; break;
		case O_REF: opt.ref = 1; break;
		case 'h': usage(); return qn_finish_stdout(QN_EXIT_OK);
		case 'V': qn_print_version();
		default: qn_usage_error("invalid option");
		}
	}
	if (!opt.output)
		qn_usage_error("no output directory given (-o DIR)");
	if (opt.snapshot && optind < argc)
		qn_usage_error("give either SHARD_DIR or --snapshot TAG, not both");
	if (!opt.snapshot && optind != argc - 1)
		qn_usage_error(optind == argc ? "no SHARD_DIR or --snapshot TAG given"
					      : "one SHARD_DIR only");
	opt.data_dir = opt.snapshot ? NULL : argv[optind];
	/*
	 * The device.  --device cuda in a build without CUDA is a usage error
	 * (2: the option cannot work with this program at all); without a
	 * device it is a failure (1: the same command works elsewhere).
	 */
	if (strcmp(opt.device, "auto") && strcmp(opt.device, "cpu") && strcmp(opt.device, "cuda"))
		qn_usage_error("unknown device '%s' (auto, cpu or cuda)", opt.device);
#ifdef QN_WITH_CUDA
	if (!strcmp(opt.device, "cuda") && opt.ref)
		qn_usage_error("--reference is the CPU's reference ops: not with --device cuda");
	if (!strcmp(opt.device, "auto"))
		opt.device = !opt.ref && qn_cuda_device_count() > 0 ? "cuda" : "cpu";
	else if (!strcmp(opt.device, "cuda") && qn_cuda_device_count() <= 0)
		qn_errx(QN_EXIT_FAIL, "--device cuda: no CUDA device found");
#else
	if (!strcmp(opt.device, "cuda"))
		qn_errx(QN_EXIT_USAGE, "--device cuda: this build has no CUDA support");
	opt.device = "cpu";
#endif
	on_gpu = !strcmp(opt.device, "cuda");
	if (opt.resume && (given_model || given_train || opt.init_llmc))
		qn_usage_error("--resume continues a run as it was: model and optimisation options "
			       "come from the checkpoint (only --steps and the run's schedule may be given)");
	if (opt.init_llmc && given_model)
		qn_usage_error("--init-from-llmc takes the model's shape from the file");

	memset(&tr, 0, sizeof tr);
	/* The state: from the checkpoint, or from the options. */
	if (opt.resume) {
		if (qn_ckpt_read(opt.resume, &tr.st, &err) < 0)
			qn_errx(QN_EXIT_FAIL, "%s", err.msg);
		if (steps_given) {
			if (o.steps < tr.st.step || o.steps < tr.st.train.warmup)
				qn_usage_error("--steps %llu is before the checkpoint's step %llu or its warmup",
					       (unsigned long long)o.steps, (unsigned long long)tr.st.step);
			tr.st.train.steps = o.steps;
		}
		cfg = tr.st.cfg;
		o = tr.st.train;
	} else {
		if (o.T > 0 && !cfg.max_seq)
			cfg.max_seq = o.T;
		if (!o.total_batch)
			o.total_batch = (uint64_t)o.B * (uint64_t)o.T;
		if (!qn_accum_steps(&o))
			qn_usage_error("--batch-tokens %llu is not a multiple of B*T = %d",
				       (unsigned long long)o.total_batch, o.B * o.T);
		if (!warmup_given && o.warmup > o.steps)
			o.warmup = o.steps;
		if (o.warmup > o.steps)
			qn_usage_error("--warmup %llu is longer than --steps %llu",
				       (unsigned long long)o.warmup, (unsigned long long)o.steps);
		if (o.min_lr < 0)
			o.min_lr = o.lr / 10;
		if (o.min_lr > o.lr)
			qn_usage_error("--min-lr is above --lr");
	}
	if (opt.stop_at && opt.stop_at > o.steps)
		qn_usage_error("--stop-at %llu is past --steps %llu",
			       (unsigned long long)opt.stop_at, (unsigned long long)o.steps);
	accum = qn_accum_steps(&o);
	/* The model computes the same bytes for any count (model/ops_fast.c). */
	if (opt.threads)
		omp_set_num_threads(opt.threads);

	/* Checkpoints are written late: make sure now that they can be. */
	{
		struct stat st;

		if (mkdir(opt.output, 0777) < 0 && errno != EEXIST)
			qn_errx(QN_EXIT_FAIL, "%s: %s", opt.output, strerror(errno));
		if (stat(opt.output, &st) < 0 || !S_ISDIR(st.st_mode))
			qn_errx(QN_EXIT_FAIL, "%s: not a directory", opt.output);
		if (access(opt.output, W_OK | X_OK) < 0)
			qn_errx(QN_EXIT_FAIL, "%s: %s", opt.output, strerror(errno));
	}
	if (!(manifest = qn_manifest_open(qn_manifest_path(opt.manifest), &err)))
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);

	/* The data, checked before anything is recorded as begun. */
	if (opt.snapshot) {
		rc = qn_manifest_verify(manifest, opt.snapshot, tag_row, &files, &err);
		if (rc < 0)
			qn_errx(QN_EXIT_FAIL, "%s", err.msg);
		if (rc > 0)
			qn_errx(QN_EXIT_FAIL, "snapshot '%s': %d file%s changed or missing; not training",
				opt.snapshot, rc, rc == 1 ? "" : "s");
	} else {
		dir_files(opt.data_dir, &files);
	}
	if ((rc = open_split(&files, QN_SPLIT_TRAIN, &train_set, &err)) < 0)
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	rc = open_split(&files, QN_SPLIT_VAL, &val_set, &err);
	if (rc < 0 && rc != QN_ENOTFOUND)
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	qn_shardset_info(train_set, &info);
	if (val_set) {
		struct qn_shardset_info vi;

		qn_shardset_info(val_set, &vi);
		if (strcmp(vi.tokenizer_hash, info.tokenizer_hash) || vi.vocab_size != info.vocab_size)
			qn_errx(QN_EXIT_FAIL, "the val shards were made with another tokenizer than the train shards");
	}

	/* The model. */
	if (opt.resume) {
		if (tr.st.tok_hash[0] && strcmp(tr.st.tok_hash, info.tokenizer_hash))
			qn_errx(QN_EXIT_FAIL, "%s: trained with tokenizer %s, the shards have %s",
				opt.resume, tr.st.tok_hash, info.tokenizer_hash);
	} else if (opt.init_llmc) {
		if (qn_gpt_load_llmc(opt.init_llmc, &cfg, &llmc_params, &err) < 0)
			qn_errx(QN_EXIT_FAIL, "%s", err.msg);
		if (o.T > cfg.max_seq)
			qn_usage_error("-T %d is longer than the model's context %d", o.T, cfg.max_seq);
	} else {
		cfg.vocab = (int)info.vocab_size;
		if (o.T > cfg.max_seq)
			qn_usage_error("-T %d is longer than --context %d", o.T, cfg.max_seq);
		if (qn_gpt_config_check(&cfg, &err) < 0)
			qn_usage_error("%s", err.msg);
	}
	if ((uint64_t)cfg.vocab < info.vocab_size)
		qn_errx(QN_EXIT_FAIL, "the model's vocabulary (%d) is smaller than the shards' (%u)",
			cfg.vocab, info.vocab_size);
	/* On the GPU the host model only holds the weights: no activations. */
	if (qn_gpt_new(&tr.model, &cfg, on_gpu ? 1 : o.B, on_gpu ? 1 : o.T,
		       opt.ref ? QN_GPT_REF : QN_GPT_FAST, &err) < 0)
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	tr.norm = opt.ref ? qn_ref_global_norm : qn_fast_global_norm;
	tr.ref = opt.ref;
	if (opt.resume) {
		if (tr.st.nparams != tr.model->nparams)
			qn_errx(QN_EXIT_FAIL, "%s: parameter count differs from the model's", opt.resume);
		memcpy(tr.model->params, tr.st.params, tr.model->nparams * sizeof(float));
		free(tr.st.params);
		tr.st.params = NULL;
		memcpy(tr.rng.s, tr.st.rng, sizeof tr.rng.s);
	} else {
		tr.st.cfg = tr.model->cfg;
		tr.st.train = o;
		tr.st.nparams = tr.model->nparams;
		tr.st.m = qn_xcalloc(tr.model->nparams, sizeof(float));
		tr.st.v = qn_xcalloc(tr.model->nparams, sizeof(float));
		snprintf(tr.st.tok_hash, sizeof tr.st.tok_hash, "%s", info.tokenizer_hash);
		if (llmc_params) {
			memcpy(tr.model->params, llmc_params, tr.model->nparams * sizeof(float));
			free(llmc_params);
		} else {
			qn_gpt_init(tr.model, o.seed);
		}
		qn_rng_seed(&tr.rng, o.seed);
	}
#ifdef QN_WITH_CUDA
	if (on_gpu) {
		if (qn_gpt_cuda_new(&tr.gpu, &tr.model->cfg, o.B, o.T, tr.model->params, &err) < 0)
			qn_errx(QN_EXIT_FAIL, "--device cuda: %s", err.msg);
		if (opt.resume && qn_gpt_cuda_set(tr.gpu, NULL, tr.st.m, tr.st.v, &err) < 0)
			qn_errx(QN_EXIT_FAIL, "--device cuda: %s", err.msg);
	}
#endif
	tr.inp = qn_xcalloc((size_t)o.B * o.T, sizeof *tr.inp);
	tr.tgt = qn_xcalloc((size_t)o.B * o.T, sizeof *tr.tgt);

	memset(&lo, 0, sizeof lo);
	lo.B = o.B;
	lo.T = o.T;
	lo.seed = o.seed;
	lo.shuffle = o.shuffle;
	lo.doc_aligned = o.doc_aligned;
	if (qn_loader_new(train_set, &lo, &tr.train, &err) < 0)
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	if (opt.resume && qn_loader_set_state(tr.train, &tr.st.loader, &err) < 0)
		qn_errx(QN_EXIT_FAIL, "%s: %s", opt.resume, err.msg);
	if (val_set) {
		lo.shuffle = 0;
		lo.doc_aligned = 0;
		if (qn_loader_new(val_set, &lo, &tr.val, &err) < 0) {
			qn_warnx("validation off: %s", err.msg);
			tr.val = NULL;
		}
	}

	/* The run. */
	qn_config_init(&conf);
	qn_config_str(&conf, "output", opt.output);
	qn_config_str(&conf, opt.snapshot ? "snapshot" : "data", opt.snapshot ? opt.snapshot : opt.data_dir);
	qn_config_str(&conf, "device", opt.device);
	if (on_gpu) {
#ifdef QN_WITH_CUDA
		char name[256];

		qn_cuda_device_name(name, sizeof name);
		qn_config_str(&conf, "device_name", name);
		qn_config_str(&conf, "impl", "cuda-bf16");
		qn_config_int(&conf, "device_memory", (int64_t)qn_gpt_cuda_memory(tr.gpu));
#endif
	} else {
		qn_config_str(&conf, "impl", opt.ref ? "reference" : "fast");
		qn_config_int(&conf, "threads", opt.threads ? opt.threads : omp_get_max_threads());
	}
	if (opt.resume)
		qn_config_str(&conf, "resume", opt.resume);
	if (opt.init_llmc)
		qn_config_str(&conf, "init_from_llmc", opt.init_llmc);
	qn_config_int(&conf, "layers", cfg.n_layer);
	qn_config_int(&conf, "heads", cfg.n_head);
	qn_config_int(&conf, "width", cfg.channels);
	qn_config_int(&conf, "context", cfg.max_seq);
	qn_config_int(&conf, "vocab", cfg.vocab);
	qn_config_int(&conf, "padded_vocab", tr.model->cfg.padded_vocab);
	qn_config_int(&conf, "params", (int64_t)tr.model->nparams);
	qn_config_int(&conf, "B", o.B);
	qn_config_int(&conf, "T", o.T);
	qn_config_int(&conf, "batch_tokens", (int64_t)o.total_batch);
	qn_config_int(&conf, "accumulation", (int64_t)accum);
	qn_config_int(&conf, "steps", (int64_t)o.steps);
	qn_config_int(&conf, "warmup", (int64_t)o.warmup);
	{
		char num[96];

		/* reals as exact decimal strings (%.17g) */
		snprintf(num, sizeof num, "%.17g", o.lr);
		qn_config_str(&conf, "lr", num);
		snprintf(num, sizeof num, "%.17g", o.min_lr);
		qn_config_str(&conf, "min_lr", num);
		snprintf(num, sizeof num, "%.17g", o.weight_decay);
		qn_config_str(&conf, "weight_decay", num);
		snprintf(num, sizeof num, "%.17g", o.grad_clip);
		qn_config_str(&conf, "grad_clip", num);
		snprintf(num, sizeof num, "%.17g/%.17g/%.17g", o.beta1, o.beta2, o.eps);
		qn_config_str(&conf, "adam_beta1_beta2_eps", num);
	}
	qn_config_int(&conf, "seed", (int64_t)o.seed);
	qn_config_bool(&conf, "shuffle", o.shuffle);
	qn_config_bool(&conf, "doc_aligned", o.doc_aligned);
	qn_config_int(&conf, "val_every", (int64_t)opt.val_every);
	qn_config_int(&conf, "val_batches", (int64_t)opt.val_batches);
	qn_config_int(&conf, "ckpt_every", (int64_t)opt.ckpt_every);
	qn_config_int(&conf, "stop_at", (int64_t)opt.stop_at);
	qn_config_str(&conf, "tokenizer_hash", info.tokenizer_hash);
	config_json = qn_xstrdup(qn_config_json(&conf));
	qn_config_release(&conf);
	free(tr.st.config_json);
	tr.st.config_json = config_json;
	if (qn_manifest_run_begin(manifest, "quern-train", qn_cli_argc, qn_cli_argv,
				  config_json, &err) < 0 ||
	    qn_manifest_train(manifest, opt.snapshot, info.tokenizer_hash, config_json,
			      (int64_t)o.seed, &err) < 0)
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	for (i = 0; i < files.n && !failure; i++)
		if (qn_manifest_file(manifest, files.paths[i], QN_INPUT, &err) < 0)
			fail("%s", err.msg);
	if (opt.resume && !failure && qn_manifest_file(manifest, opt.resume, QN_INPUT, &err) < 0)
		fail("%s", err.msg);
	if (opt.init_llmc && !failure && qn_manifest_file(manifest, opt.init_llmc, QN_INPUT, &err) < 0)
		fail("%s", err.msg);
	if (!opt.quiet && !failure)
		fprintf(stderr, "%s: %zu parameters, %llu train tokens, %d x %d x %llu tokens a step, on the %s\n",
			qn_progname, tr.model->nparams, (unsigned long long)info.tokens, o.B, o.T,
			(unsigned long long)accum, on_gpu ? "GPU" : "CPU");

	end_step = opt.stop_at ? opt.stop_at : o.steps;
	while (!failure && tr.st.step < end_step && !qn_signalled) {
		if (train_step(&tr, accum) < 0)
			break;
		if (tr.val && opt.val_every &&
		    (tr.st.step % opt.val_every == 0 || tr.st.step == o.steps)) {
			double vl = validate(&tr);

			if (failure)
				break;
			if (qn_manifest_metric(manifest, (int64_t)tr.st.step, "val_loss", vl, &err) < 0) {
				fail("%s", err.msg);
				break;
			}
			if (!opt.quiet)
				printf("step %llu/%llu: val_loss %.6f\n", (unsigned long long)tr.st.step,
				       (unsigned long long)o.steps, vl);
			fflush(stdout);
		}
		if (opt.ckpt_every && tr.st.step % opt.ckpt_every == 0 && tr.st.step < end_step) {
			char *p = save_checkpoint(&tr, last_ckpt ? last_ckpt : opt.resume);

			if (!p)
				break;
			free(last_ckpt);
			last_ckpt = p;
			saved_step = tr.st.step;
		}
	}
	fflush(stdout);
	/* The last state, unless the loop just wrote it (also after a signal). */
	if (!failure && saved_step != tr.st.step) {
		char *p = save_checkpoint(&tr, last_ckpt ? last_ckpt : opt.resume);

		free(last_ckpt);
		last_ckpt = p;
	}
	if (!failure && opt.export_llmc && !qn_signalled && sync_host(&tr) == 0) {
		if (qn_gpt_save_llmc(opt.export_llmc, tr.model, &err) < 0 ||
		    qn_manifest_file(manifest, opt.export_llmc, QN_OUTPUT, &err) < 0)
			fail("%s", err.msg);
	}
	if (!failure && qn_signalled)
		fail("interrupted by signal %d at step %llu; resume with --resume %s",
		     qn_signalled, (unsigned long long)tr.st.step, last_ckpt ? last_ckpt : "?");
	qn_manifest_count(manifest, "steps", (int64_t)tr.st.step);
	/* The exit status says a write error on stdout (the losses): so does the run. */
	if (!failure && (fflush(stdout) == EOF || ferror(stdout)))
		fail("write error on standard output");
	if (failure) {
		qn_warnx("%s", failure);
		qn_manifest_run_end(manifest, 0, failure, NULL);
	} else if (qn_manifest_run_end(manifest, 1, NULL, &err) < 0) {
		fail("%s", err.msg);
		qn_warnx("%s", failure);
	}
	qn_manifest_close(manifest);
	qn_loader_free(tr.train);
	qn_loader_free(tr.val);
	qn_shardset_free(train_set);
	qn_shardset_free(val_set);
#ifdef QN_WITH_CUDA
	qn_gpt_cuda_free(tr.gpu);
#endif
	qn_gpt_free(tr.model);
	qn_ckpt_release(&tr.st);
	taglist_free(&files);
	free(tr.inp);
	free(tr.tgt);
	free(last_ckpt);
	return qn_finish_stdout(failure ? QN_EXIT_FAIL : QN_EXIT_OK);
}
