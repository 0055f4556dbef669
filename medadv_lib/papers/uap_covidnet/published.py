"""Every number Hirano, Koga & Takemoto 2020 (PLoS ONE 15(12): e0243963) prints, as data: Tables 1-3 (R_f and R_s in %, [UAP, random control]), Sec. 3.1-3.4 and Figures 1, 3, 5 (prose).

Transcribed from ``shared/papers/published-values.yaml`` (key ``hirano2020_uap_covidnet``), which holds them as
printed, with their source in the paper's text; ``tests/test_published_values.py`` checks this copy
against that file cell for cell. Percentages stay percentages and fractions stay fractions, as
printed. A cell the paper's text does not print is absent here, never guessed.
"""
KEY = "hirano2020_uap_covidnet"

PUBLISHED = {'source': 'text/hirano2020-uap-covidnet.txt',
 'setup': {'dataset': 'COVIDx as of 2020-05-01',
           'train_images': {'total': 13569, 'normal': 7966, 'pneumonia': 5451, 'covid19': 152},
           'test_images': {'total': 231, 'normal': 100, 'pneumonia': 100, 'covid19': 31},
           'fgsm_strength': 0.001,
           'i_max': 15,
           'zetas_percent': [1, 2],
           'norms': ['2', 'inf'],
           'mean_image_norm_0_255': {'Linf': 237, 'L2': 32589}},
 'clean_accuracy_percent': {'Small': {'train': 95.8, 'test': 92.6},
                            'Large': {'train': 94.1, 'test': 94.4}},
 'table1_nontargeted_Rf_percent': {'2': {'1': {'Small': {'train': [61.4, 1.3], 'test': [58.0, 0.4]},
                                               'Large': {'train': [90.0, 2.5],
                                                         'test': [81.0, 3.9]}},
                                         '2': {'Small': {'train': [98.5, 12.6],
                                                         'test': [87.4, 16.0]},
                                               'Large': {'train': [97.4, 17.9],
                                                         'test': [85.7, 22.1]}}},
                                   'inf': {'1': {'Small': {'train': [70.8, 1.0],
                                                           'test': [64.9, 1.3]},
                                                 'Large': {'train': [84.8, 2.0],
                                                           'test': [77.1, 3.5]}},
                                           '2': {'Small': {'train': [98.5, 9.4],
                                                           'test': [87.4, 13.4]},
                                                 'Large': {'train': [97.4, 14.3],
                                                           'test': [85.7, 19.9]}}}},
 'table2_targeted_Rs_percent_Small': {'2': {'1': {'normal': {'train': [88.1, 60.5],
                                                             'test': [78.4, 46.3]},
                                                  'pneumonia': {'train': [76.7, 37.5],
                                                                'test': [71.4, 41.6]},
                                                  'covid19': {'train': [68.1, 1.9],
                                                              'test': [74.0, 12.1]}},
                                            '2': {'normal': {'train': [99.4, 54.4],
                                                             'test': [97.8, 39.0]},
                                                  'pneumonia': {'train': [99.4, 33.0],
                                                                'test': [98.7, 35.9]},
                                                  'covid19': {'train': [100, 12.6],
                                                              'test': [99.1, 25.1]}}},
                                      'inf': {'1': {'normal': {'train': [79.5, 60.7],
                                                               'test': [64.9, 45.9]},
                                                    'pneumonia': {'train': [66.5, 37.5],
                                                                  'test': [61.9, 41.6]},
                                                    'covid19': {'train': [78.8, 1.8],
                                                                'test': [84.0, 12.6]}},
                                              '2': {'normal': {'train': [98.7, 56.3],
                                                               'test': [96.1, 39.4]},
                                                    'pneumonia': {'train': [99.5, 34.1],
                                                                  'test': [98.3, 37.7]},
                                                    'covid19': {'train': [100, 9.5],
                                                                'test': [100, 22.9]}}}},
 'table3_targeted_Rs_percent_Large': {'2': {'1': {'normal': {'train': [85.2, 58.9],
                                                             'test': [71.4, 44.2]},
                                                  'pneumonia': {'train': [72.6, 37.0],
                                                                'test': [66.2, 39.0]},
                                                  'covid19': {'train': [92.4, 4.0],
                                                              'test': [95.2, 16.9]}},
                                            '2': {'normal': {'train': [99.2, 50.7],
                                                             'test': [98.3, 34.6]},
                                                  'pneumonia': {'train': [99.5, 30.6],
                                                                'test': [98.7, 32.9]},
                                                  'covid19': {'train': [100, 18.7],
                                                              'test': [100, 32.5]}}},
                                      'inf': {'1': {'normal': {'train': [71.0, 59.2],
                                                               'test': [56.7, 44.2]},
                                                    'pneumonia': {'train': [55.4, 37.0],
                                                                  'test': [53.2, 40.3]},
                                                    'covid19': {'train': [88.4, 3.7],
                                                                'test': [92.2, 15.6]}},
                                              '2': {'normal': {'train': [97.9, 52.7],
                                                               'test': [93.9, 35.9]},
                                                    'pneumonia': {'train': [99.4, 32.3],
                                                                  'test': [98.3, 33.8]},
                                                    'covid19': {'train': [100, 14.9],
                                                                'test': [100, 30.3]}}}},
 'text': {'fig1_nontargeted_confusion': 'p = inf, test images. zeta 1 %: Small sends > 70 % of '
                                        'normal and pneumonia images to COVID-19, Large about 90 '
                                        '%. zeta 2 %: both models send almost all normal and '
                                        'pneumonia images to COVID-19.',
          'fig3_targeted_confusion_Small_inf': 'zeta 1 %, target normal or pneumonia: almost all '
                                               'COVID-19 images stay COVID-19; about 50 % of '
                                               'normal (pneumonia) images go to the target '
                                               'pneumonia (normal). zeta 1 %, target COVID-19: '
                                               'about 80 % of normal and pneumonia images go to '
                                               'COVID-19. zeta 2 %: almost all images of every '
                                               'class reach the target.',
          'targeted_ranges': 'zeta 1 %, test: R_s 60-85 % (Small), 55-95 % (Large). zeta 2 %: '
                             'about 100 % for every target. Random controls toward normal / '
                             'pneumonia on test: 35-45 % (Small), 30-45 % (Large). R_s with p = 2 '
                             'generally above p = inf.',
          'norm_effect': 'difference in R_f between p = 2 and p = inf at most about 7 points '
                         '(test).'},
 'retraining': {'clean_test_accuracy_percent': 'about 90, constant over rounds',
                'nontargeted_zeta2_Rf_test_after_5_rounds_percent': 22.1,
                'nontargeted_after_5_rounds': '45 % of pneumonia test images still misclassified; '
                                              'normal and COVID-19 almost all correct',
                'targeted_covid19_zeta1_Rs_test_after_5_rounds_percent': 16.5,
                'targeted_after_5_rounds': '15 % of pneumonia test images still sent to COVID-19'}}
