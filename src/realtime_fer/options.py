"""The values each training option takes, in one place without torch: the CLI offers them on a
serving-only install, and the code that implements each option checks against them
(:func:`choices.check_choice`)."""

OPTIMIZERS = ("adam", "adamw", "sgd")  # train.make_optimizer
SCHEDULES = ("plateau", "onecycle")  # train.make_schedule
AUGMENTS = ("none", "flip", "shift", "strong")  # augment.AUGMENTATIONS
SELECTS = ("best", "last")  # which epoch a run exports: best validation accuracy, or the last
# training arithmetic (device.pick_device): bf16 autocast where the hardware has it (auto), or not.
# Not the served graph's precision (fp32 or int8): that is model_folder.PRECISIONS.
TRAIN_PRECISIONS = ("auto", "fp32", "bf16")

