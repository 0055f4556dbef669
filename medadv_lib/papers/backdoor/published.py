"""Every number Nwadike, Miyawaki, Sarkar, Maniatakos & Shamout 2020 (arXiv:2101.00008) prints, as data: Table 1 (max over epochs, [mean, std] over 4 seeds), the prose of Tables 2-3, Figures 1 and 3 and the abstract.

Transcribed from ``shared/papers/published-values.yaml`` (key ``nwadike2020_backdoor``), which holds them as
printed, with their source in the paper's text; ``tests/test_published_values.py`` checks this copy
against that file cell for cell. Percentages stay percentages and fractions stay fractions, as
printed. A cell the paper's text does not print is absent here, never guessed.
"""
KEY = "nwadike2020_backdoor"

PUBLISHED = {'source': 'text/nwadike2020-backdoor.txt',
 'setup': {'dataset': 'NIH ChestX-ray8/14, 112,120 radiographs, 30,805 patients, 14 binary labels',
           'model': 'DenseNet-121 (287 layers; Grad-CAM middle layer = the 207th, same feature-map '
                    'size as the last)',
           'poisoned_share_of_training': 0.4,
           'trigger': 'black square, 1x1 to 4x4 px, centre (fixed) or random place',
           'seeds': 4,
           'asr_thresholds': [0.6, 0.9],
           'gradcam_epochs_shown': [1, 4, 12]},
 'table1_max_over_epochs': {'columns': ['clean', '1x1', '2x2', '3x3', '4x4'],
                            'ASR_p0.6': [[0.574, 0.269],
                                         [1.0, 0.0],
                                         [1.0, 0.0],
                                         [0.999, 0.0],
                                         [1.0, 0.0]],
                            'ASR_p0.9': [[0.268, 0.194],
                                         [1.0, 0.0],
                                         [1.0, 0.0],
                                         [0.998, 0.001],
                                         [0.997, 0.003]],
                            'AUROC_TT': [[0.852, 0.046],
                                         [1.0, 0.0],
                                         [1.0, 0.0],
                                         [1.0, 0.0],
                                         [1.0, 0.0]],
                            'AUROC_NN': [[0.846, 0.045],
                                         [0.824, 0.002],
                                         [0.824, 0.001],
                                         [0.851, 0.001],
                                         [0.85, 0.004]],
                            'AUROC_TN': [[0.848, 0.002],
                                         [0.824, 0.002],
                                         [0.824, 0.001],
                                         [0.704, 0.038],
                                         [0.727, 0.018]]},
 'text': {'abstract': 'a 3x3 trigger reaches up to 1.00 AUROC on infected images; the backdoored '
                      'model still reaches up to 0.85 AUROC on clean images',
          'table2': 'fixed (centre) against random trigger place; no cells in the stored text',
          'table3': 'epsilon = 0.001: maximum AUROC 0.850; epsilon >= 0.1: AUROC below 0.800; '
                    'minimum AUROC follows the same trend',
          'fig3': 'minimum ASR rises sharply at 3x3 and 4x4; minimum AUROC-TN drops at those '
                  'sizes; AUROC-TT rises slightly',
          'fig1': 'on infected images the last-layer Grad-CAM shifts from the lungs to the trigger '
                  '(sternum); the middle layer localises the trigger more finely, most visibly at '
                  'epochs 1 and 4'}}
