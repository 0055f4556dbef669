"""Every number Qi, Gong, Song, Ma & Zheng 2021 (ICLR) prints, as data: Sec. 4 settings and the prose of Tables 1-6 (the stored text prints no table cells).

Transcribed from ``shared/papers/published-values.yaml`` (key ``qi2021_smia``), which holds them as
printed, with their source in the paper's text; ``tests/test_published_values.py`` checks this copy
against that file cell for cell. Percentages stay percentages and fractions stay fractions, as
printed. A cell the paper's text does not print is absent here, never guessed.
"""
KEY = "qi2021_smia"

PUBLISHED = {'source': 'text/qi2021-smia.txt',
 'setup': {'classification': {'datasets': 'APTOS-2019 (3,662 fundus images, 5 grades); Kaggle-DR '
                                          '(11,000 random training images, 5 grades)',
                              'model': 'ResNet-50 + graph convolutional network',
                              'metric': 'mean accuracy',
                              'epsilon': 5e-05},
           'detection': {'dataset': 'EAD-2019 (2,500 endoscopic frames, 7 artefact classes)',
                         'model': 'multi-scale booster (FPN)',
                         'metrics': ['IoU', 'mAP'],
                         'epsilon': 0.01},
           'segmentation': {'dataset': 'COVID-19 CT (20 scans)',
                            'model': 'U-Net',
                            'metrics': ['mean accuracy', 'Jaccard index'],
                            'epsilon': 0.05},
           'iterations': 10,
           'alpha': 1,
           'baselines': ['FGSM', 'PGD', 'DeepFool', 'DAG']},
 'text': {'table1': 'adding STA to DEV lowers the performance further on all three datasets and '
                    'raises the share of positive cosine values between consecutive perturbations',
          'table2': 'existing attacks need more iterations; SMIA lowers EAD-2019 performance '
                    'markedly within few iterations',
          'table3': 'on EAD-2019 SMIA does best against the others at epsilon 0.01',
          'table4': 'SMIA lowers the performance most at alpha = 1',
          'table6_covid19': "SMIA's accuracy drop on COVID-19 CT is about 9 points more than the "
                            'second best (DAG)',
          'table6_aptos': "SMIA's accuracy drop on APTOS-2019 is about 10 points more than the "
                          'second best (PGD)',
          'table6_kaggle_dr': 'SMIA gives the highest false positive rate on Kaggle-DR',
          'table6_ead': 'DAG lowers mAP more than SMIA, but SMIA lowers IoU more (7.62 % against '
                        '4.8 %)',
          'table6_variance': "SMIA's perturbation variance is the lowest of all methods on every "
                             'dataset',
          'table5_mnist': 'SMIA lowers MNIST accuracy more than FGSM and PGD'}}
