// Datasets in one include: data roots, loaders, synthetic generators, DataLoader, graph splits.
#pragma once

#include "datasets/data_root.h"
#include "datasets/idx.h"
#include "datasets/planetoid.h"
#include "datasets/omniglot.h"
#include "datasets/csv.h"
#include "datasets/images.h"
#include "datasets/synthetic.h"
#include "datasets/transforms.h"
#include "datasets/dataloader.h"
#include "datasets/graph_split.h"
#include "datasets/uniforms.h"
