// The training toolkit in one include: metrics, assignment, clustering, the command line,
// progress lines, JSON-lines metrics and plots.
#pragma once

#include "train/metrics.h"
#include "train/assignment.h"
#include "train/cluster.h"
#include "train/cli.h"
#include "train/progress.h"
#include "train/jsonl.h"
#include "train/full_batch.h"
#include "train/plot.h"
