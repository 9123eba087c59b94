// Optimisers, learning-rate schedules, gradient clipping and weight averaging in one include.
//
//   nn::AdamW opt(net->parameters(), {.lr = 3e-4, .weight_decay = 0.05});
//   nn::CosineAnnealingLR sched(opt, epochs);
//   loss.backward(); nn::clip_grad_norm_(net->parameters(), 1.0); opt.step(); opt.zero_grad();
#pragma once

#include "nn/optim/adam.h"
#include "nn/optim/clip.h"
#include "nn/optim/ema.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/rmsprop.h"
#include "nn/optim/schedule.h"
#include "nn/optim/sgd.h"
